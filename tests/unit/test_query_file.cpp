#include "kiva/db/query_file.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

using kiva::db::Query;
using kiva::db::QueryFile;
using kiva::db::QueryFileError;
using kiva::db::QueryKind;
using Names = std::vector<std::string>;

namespace {

/// The SQL and parameters of one SQL text.
std::string translate(std::string_view sql, Names* params = nullptr) {
    Names local;
    std::string out = kiva::db::translate_parameters(sql, params ? *params : local);
    return out;
}

/// parse must throw QueryFileError whose message contains every one of the parts.
void check_error(std::string_view text, std::initializer_list<std::string_view> parts) {
    try {
        QueryFile::parse(text, "f.sql");
        BOOST_ERROR("no QueryFileError for:\n" << text);
    } catch (const QueryFileError& e) {
        std::string what = e.what();
        for (auto part : parts)
            BOOST_TEST(what.find(part) != std::string::npos,
                       "\"" << what << "\" lacks \"" << part << "\"");
    }
}

/// The course demo's sql/queries.sql, found from this source file's place.
std::string queries_path() {
    return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "examples" / "course" /
            "sql" / "queries.sql")
        .string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(query_file)

// ---------------------------------------------------------------- the file format

BOOST_AUTO_TEST_CASE(names_suffixes_and_descriptions) {
    auto file = QueryFile::parse(
        "-- A header comment before the first query.\n"
        "\n"
        "-- name: all\n"
        "-- Every row.\n"
        "-- Second description line.\n"
        "SELECT * FROM t;\n"
        "\n"
        "-- name: one^\n"
        "SELECT * FROM t WHERE id = :id\n"
        "-- name: val$\n"
        "SELECT count(*) FROM t;\n"
        "-- name: upd!\n"
        "UPDATE t\n"
        "SET a = :a\n"
        "WHERE id = :id AND b = :a;\n",
        "f.sql");
    BOOST_TEST_REQUIRE(file.queries().size() == 4u);

    const Query* all = file.find("all");
    BOOST_TEST_REQUIRE(all);
    BOOST_TEST((all->kind == QueryKind::rows));
    BOOST_TEST(all->sql == "SELECT * FROM t");  // description left out, ';' removed
    BOOST_TEST(all->params.empty());
    BOOST_TEST(all->origin == "f.sql:3");

    const Query* one = file.find("one");
    BOOST_TEST_REQUIRE(one);
    BOOST_TEST((one->kind == QueryKind::row));
    BOOST_TEST(one->sql == "SELECT * FROM t WHERE id = $1");
    BOOST_TEST(one->params == Names{"id"}, boost::test_tools::per_element());
    BOOST_TEST(one->origin == "f.sql:8");

    const Query* val = file.find("val");
    BOOST_TEST_REQUIRE(val);
    BOOST_TEST((val->kind == QueryKind::value));

    const Query* upd = file.find("upd");
    BOOST_TEST_REQUIRE(upd);
    BOOST_TEST((upd->kind == QueryKind::count));
    BOOST_TEST(upd->sql ==
               "UPDATE t\nSET a = $1\nWHERE id = $2 AND b = $1");  // same name, same number
    BOOST_TEST(upd->params == (Names{"a", "id"}), boost::test_tools::per_element());

    BOOST_TEST(file.find("one^") == nullptr);  // the suffix is not part of the name
    BOOST_TEST(file.find("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(suffix_names) {
    BOOST_TEST(kiva::db::suffix(QueryKind::rows) == "");
    BOOST_TEST(kiva::db::suffix(QueryKind::row) == "^");
    BOOST_TEST(kiva::db::suffix(QueryKind::value) == "$");
    BOOST_TEST(kiva::db::suffix(QueryKind::count) == "!");
}

BOOST_AUTO_TEST_CASE(name_line_spacing_and_crlf) {
    auto file =
        QueryFile::parse("--name:a\nSELECT 1\n  --   name:   b^  \r\nSELECT 2\r\n", "f.sql");
    BOOST_TEST_REQUIRE(file.find("a"));
    BOOST_TEST_REQUIRE(file.find("b"));
    BOOST_TEST((file.find("b")->kind == QueryKind::row));
    BOOST_TEST(file.find("b")->sql == "SELECT 2");
}

BOOST_AUTO_TEST_CASE(comment_lines_after_sql_stay_in_the_body) {
    auto file =
        QueryFile::parse("-- name: q\n-- description\nSELECT 1\n-- trailing\n, 2\n", "f.sql");
    BOOST_TEST(file.find("q")->sql == "SELECT 1\n-- trailing\n, 2");
}

BOOST_AUTO_TEST_CASE(trailing_semicolons_removed) {
    auto file = QueryFile::parse("-- name: q\nSELECT 1 ;; \n\n", "f.sql");
    BOOST_TEST(file.find("q")->sql == "SELECT 1");
}

// Comment lines between a query and the next name line (sql/queries.sql's section rulers,
// "-- ------ Stuff") are not part of the previous query, and its trailing ';' goes.
BOOST_AUTO_TEST_CASE(trailing_comment_lines_do_not_keep_the_semicolon) {
    auto file = QueryFile::parse(
        "-- name: a\nSELECT 1;\n\n-- ------ Section\n\n-- name: b\nSELECT 2;\n", "f.sql");
    BOOST_TEST(file.find("a")->sql == "SELECT 1");
    BOOST_TEST(file.find("b")->sql == "SELECT 2");
}

// ---------------------------------------------------------------- parameters

BOOST_AUTO_TEST_CASE(parameters_numbered_by_first_appearance) {
    Names params;
    BOOST_TEST(translate("SELECT :b, :a, :b, :a_1", &params) == "SELECT $1, $2, $1, $3");
    BOOST_TEST(params == (Names{"b", "a", "a_1"}), boost::test_tools::per_element());
    BOOST_TEST(translate(":x") == "$1");  // at the very start
    BOOST_TEST(translate("(:x)") == "($1)");
}

BOOST_AUTO_TEST_CASE(no_parameters_in_string_literals) {
    Names params;
    BOOST_TEST(translate("SELECT ':notparam', 'it''s :x', :y", &params) ==
               "SELECT ':notparam', 'it''s :x', $1");
    BOOST_TEST(params == Names{"y"}, boost::test_tools::per_element());
    BOOST_TEST(translate("SELECT '''', :y") == "SELECT '''', $1");
    BOOST_TEST(translate("SELECT '', :y") == "SELECT '', $1");
}

BOOST_AUTO_TEST_CASE(no_parameters_in_quoted_identifiers) {
    Names params;
    BOOST_TEST(translate(R"(SELECT "col:x", "a""b:z" FROM t WHERE c = :c)", &params) ==
               R"(SELECT "col:x", "a""b:z" FROM t WHERE c = $1)");
    BOOST_TEST(params == Names{"c"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_parameters_in_comments) {
    Names params;
    BOOST_TEST(translate("SELECT 1 -- :x\n, :y", &params) == "SELECT 1 -- :x\n, $1");
    BOOST_TEST(params == Names{"y"}, boost::test_tools::per_element());
    params.clear();
    BOOST_TEST(translate("SELECT /* :x\n :z */ :y", &params) == "SELECT /* :x\n :z */ $1");
    BOOST_TEST(params == Names{"y"}, boost::test_tools::per_element());
    BOOST_TEST(translate("SELECT 1 -- :x") == "SELECT 1 -- :x");  // comment up to the end
}

BOOST_AUTO_TEST_CASE(no_parameters_in_dollar_quotes) {
    Names params;
    BOOST_TEST(translate("SELECT $$ :x ' $$, $body$ :y $$ :z $body$, :w", &params) ==
               "SELECT $$ :x ' $$, $body$ :y $$ :z $body$, $1");
    BOOST_TEST(params == Names{"w"}, boost::test_tools::per_element());
    BOOST_TEST(translate("SELECT $1, $2") == "SELECT $1, $2");        // positional parameters kept
    BOOST_TEST(translate("SELECT a$b$ + :c") == "SELECT a$b$ + $1");  // '$' inside an identifier
}

// PostgreSQL block comments nest: a parameter in the outer part of a nested comment is
// comment, as the server sees it.
BOOST_AUTO_TEST_CASE(nested_block_comments) {
    Names params;
    BOOST_TEST(translate("SELECT /* a /* b */ :x */ :y", &params) ==
               "SELECT /* a /* b */ :x */ $1");
    BOOST_TEST(params == Names{"y"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(escape_strings_and_plain_reads) {
    BOOST_TEST(translate(R"(SELECT E'it\'s :x', :y)") == R"(SELECT E'it\'s :x', $1)");
    BOOST_TEST(kiva::db::is_plain_read("SELECT sid FROM Stuff WHERE sid = $1"));
    BOOST_TEST(kiva::db::is_plain_read("WITH a AS (SELECT 1) SELECT * FROM a"));
    BOOST_TEST(kiva::db::is_plain_read("SELECT 'UPDATE' AS word -- DELETE"));
    BOOST_TEST(!kiva::db::is_plain_read("SELECT sid FROM Stuff WHERE sid = $1 FOR UPDATE"));
    BOOST_TEST(!kiva::db::is_plain_read("SELECT * FROM t FOR KEY SHARE"));
    BOOST_TEST(!kiva::db::is_plain_read("INSERT INTO t VALUES (1) RETURNING id"));
    BOOST_TEST(!kiva::db::is_plain_read("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"));
    BOOST_TEST(!kiva::db::is_plain_read("SELECT nextval('s')"));
    BOOST_TEST(!kiva::db::is_plain_read("SELECT * INTO t2 FROM t"));
    auto file = QueryFile::parse(
        "-- name: f\n-- kiva: transaction\nSELECT writes_things()\n"
        "-- name: g\nSELECT 1\n",
        "f.sql");
    BOOST_TEST(!file.find("f")->plain_read);
    BOOST_TEST(file.find("g")->plain_read);
}

BOOST_AUTO_TEST_CASE(replica_queries_are_plain_reads) {
    auto file = QueryFile::parse(
        "-- name: counted$\n-- A dashboard's count.\n-- kiva: replica\nSELECT count(*) FROM t\n"
        "-- name: g\nSELECT 1\n",
        "f.sql");
    BOOST_TEST(file.find("counted")->replica);
    BOOST_TEST(file.find("counted")->plain_read);
    BOOST_TEST(!file.find("g")->replica);
    // A write, a lock or a function that writes cannot go to a standby.
    check_error("-- name: w$\n-- kiva: replica\nINSERT INTO t VALUES (1) RETURNING id\n",
                {"f.sql:1", "\"w\"", "kiva: replica", "not a plain read"});
    check_error("-- name: l\n-- kiva: replica\nSELECT * FROM t FOR UPDATE\n",
                {"f.sql:1", "not a plain read"});
    check_error("-- name: f\n-- kiva: transaction\n-- kiva: replica\nSELECT writes_things()\n",
                {"f.sql:1", "not a plain read"});
}

BOOST_AUTO_TEST_CASE(autocommit_writes_say_so) {
    auto file = QueryFile::parse(
        "-- name: claim^\n-- A claim committed on its own.\n-- kiva: autocommit\n"
        "UPDATE t SET n = n + 1 RETURNING n\n"
        "-- name: w!\nUPDATE t SET n = 0\n",
        "f.sql");
    BOOST_TEST(file.find("claim")->autocommit);
    BOOST_TEST(!file.find("claim")->plain_read);
    BOOST_TEST(!file.find("w")->autocommit);
    check_error("-- name: f\n-- kiva: transaction\n-- kiva: autocommit\nSELECT writes_things()\n",
                {"f.sql:1", "\"f\"", "kiva: autocommit"});
}

BOOST_AUTO_TEST_CASE(casts_and_slices_are_not_parameters) {
    Names params;
    BOOST_TEST(translate("SELECT :a::int, x::text, :b::numeric(3)", &params) ==
               "SELECT $1::int, x::text, $2::numeric(3)");
    BOOST_TEST(params == (Names{"a", "b"}), boost::test_tools::per_element());
    params.clear();
    BOOST_TEST(translate("SELECT a[1:n], a[i:j] FROM t", &params) ==
               "SELECT a[1:n], a[i:j] FROM t");
    BOOST_TEST(params.empty());
    BOOST_TEST(translate("SELECT x:y, :1, ': '") == "SELECT x:y, :1, ': '");
}

// ---------------------------------------------------------------- errors

BOOST_AUTO_TEST_CASE(duplicate_name_mentions_both_lines) {
    check_error("-- name: q\nSELECT 1;\n\n-- name: q^\nSELECT 2;\n",
                {"f.sql:4", "f.sql:1", "duplicate", "\"q\""});
}

BOOST_AUTO_TEST_CASE(bad_names_and_suffixes) {
    for (const char* text :
         {"-- name: q?\nSELECT 1", "-- name: q^!\nSELECT 1", "-- name: 1q\nSELECT 1",
          "-- name:\nSELECT 1", "-- name: ^\nSELECT 1", "-- name: a b\nSELECT 1",
          "-- name: a-b\nSELECT 1", "-- name: a.b\nSELECT 1"}) {
        BOOST_TEST_CONTEXT(text) {
            check_error(text, {"f.sql:1", "bad query name"});
        }
    }
    check_error("-- name: ok\nSELECT 1\n-- name: q!!\nSELECT 2", {"f.sql:3", "bad query name"});
}

BOOST_AUTO_TEST_CASE(sql_before_the_first_name) {
    check_error("-- header\n\nSELECT 1;\n-- name: q\nSELECT 2", {"f.sql:3", "before the first"});
}

BOOST_AUTO_TEST_CASE(empty_query_body) {
    check_error("-- name: q\n-- only a description\n\n-- name: r\nSELECT 1",
                {"f.sql:1", "\"q\"", "no SQL"});
    check_error("-- name: q\n  ;  \n", {"f.sql:1", "no SQL"});
    check_error("-- name: q", {"f.sql:1", "no SQL"});
}

BOOST_AUTO_TEST_CASE(unterminated_literals_and_comments) {
    check_error("-- name: ok\nSELECT 1;\n-- name: q\nSELECT 'abc\n",
                {"f.sql:3", "\"q\"", "unterminated string"});
    check_error("-- name: q\nSELECT 'it''s\n", {"f.sql:1", "unterminated string"});
    check_error("-- name: q\nSELECT \"col\n", {"f.sql:1", "unterminated quoted identifier"});
    check_error("-- name: q\nSELECT 1 /* comment\n", {"f.sql:1", "unterminated comment"});
    check_error("-- name: q\nSELECT $$ body\n", {"f.sql:1", "unterminated dollar-quoted"});
    check_error("-- name: q\nSELECT $a$ body $b$\n", {"f.sql:1", "unterminated dollar-quoted"});
    BOOST_CHECK_THROW(translate("'"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(empty_file_has_no_query) {
    BOOST_TEST(QueryFile::parse("", "f.sql").queries().empty());
    BOOST_TEST(QueryFile::parse("-- just a comment\n\n", "f.sql").queries().empty());
}

// ---------------------------------------------------------------- the real file

BOOST_AUTO_TEST_CASE(append_keeps_the_order_and_refuses_a_name_used_twice) {
    auto first = QueryFile::parse("-- name: a\nSELECT 1\n-- name: b$\nSELECT 2\n", "kiva.sql");
    first.append(QueryFile::parse("-- name: c!\nDELETE FROM t\n", "app.sql"));
    BOOST_TEST_REQUIRE(first.queries().size() == 3u);
    BOOST_TEST(first.queries()[2].name == "c");
    BOOST_TEST(first.find("c") == &first.queries()[2]);
    try {
        first.append(QueryFile::parse("\n-- name: b\nSELECT 3\n", "app.sql"));
        BOOST_FAIL("a name used twice must be refused");
    } catch (const QueryFileError& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "app.sql:2: query b is already defined at kiva.sql:3 (the framework's queries "
                   "come first: choose another name)");
    }
}

BOOST_AUTO_TEST_CASE(loads_the_project_queries) {
    const std::string path = queries_path();
    QueryFile file = QueryFile::load(path);
    BOOST_TEST(file.queries().size() >= 10u);
    for (const auto& q : file.queries()) {
        BOOST_TEST_CONTEXT("query " << q.name) {
            BOOST_TEST(q.origin.substr(0, path.size() + 1) == path + ":");
            BOOST_TEST(!q.sql.empty());
            BOOST_TEST(q.sql.back() != ';');
            Names again;
            BOOST_TEST(translate(q.sql, &again) == q.sql);  // every parameter translated
            BOOST_TEST(again.empty());
        }
    }

    const Query* now = file.find("now");
    BOOST_TEST_REQUIRE(now);
    BOOST_TEST((now->kind == QueryKind::value));
    BOOST_TEST(now->sql == "SELECT CURRENT_TIMESTAMP");

    const Query* sid = file.find("get_stuff_sid");
    BOOST_TEST_REQUIRE(sid);
    BOOST_TEST((sid->kind == QueryKind::row));
    BOOST_TEST(sid->params == Names{"sid"}, boost::test_tools::per_element());

    const Query* upd = file.find("upd_stuff_sid");
    BOOST_TEST_REQUIRE(upd);
    BOOST_TEST((upd->kind == QueryKind::count));
    BOOST_TEST(upd->sql == "UPDATE Stuff SET stuff = $1 WHERE sid = $2");
    BOOST_TEST(upd->params == (Names{"stuff", "sid"}), boost::test_tools::per_element());

    const Query* owned = file.find("can_access_owned");
    BOOST_TEST_REQUIRE(owned);
    BOOST_TEST(owned->sql.find("Whether") == std::string::npos);  // the description is not SQL
    BOOST_TEST(owned->params == (Names{"login", "oid"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error) {
    BOOST_CHECK_THROW(QueryFile::load("/nonexistent/queries.sql"), QueryFileError);
}

BOOST_AUTO_TEST_SUITE_END()
