// The run-time side of the generated typed queries: the text each argument type sends, what
// it refuses to accept (at compile time), and the start-up check against the queries file.

#include "kiva/db/typed.hpp"
#include "generated/queries.hpp"
#include "kiva/security/framework_queries.hpp"
#include "kiva/security/queries.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace kiva::db;

namespace {

std::string sent(const in::Arg& a) {
    return a.c_str() ? a.c_str() : "NULL";
}

const CompiledQuery compiled[] = {
    {"a", QueryKind::row, "SELECT $1", "x"},
    {"b", QueryKind::count, "DELETE FROM t", ""},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(typed)

BOOST_AUTO_TEST_CASE(arguments_send_their_text_and_null) {
    BOOST_TEST(sent(in::Int(int64_t{-42})) == "-42");
    BOOST_TEST(sent(in::Int(7)) == "7");
    BOOST_TEST(sent(in::Int(std::optional<int64_t>{})) == "NULL");
    BOOST_TEST(sent(in::Int(std::optional<int>{3})) == "3");
    BOOST_TEST(sent(in::Int(nullptr)) == "NULL");
    BOOST_TEST(sent(in::Bool(true)) == "true");
    BOOST_TEST(sent(in::Text("it's")) == "it's");
    BOOST_TEST(sent(in::Text(std::optional<std::string>("x"))) == "x");
    BOOST_TEST(sent(in::Float(0.5)) == "0.5");
    BOOST_TEST(sent(in::Date(*kiva::Date::parse("2024-01-31"))) == "2024-01-31");
    BOOST_TEST(sent(in::Uuid(*kiva::Uuid::parse("123E4567-E89B-12D3-A456-426614174000"))) ==
               "123e4567-e89b-12d3-a456-426614174000");
}

BOOST_AUTO_TEST_CASE(lists_are_array_literals) {
    BOOST_TEST(sent(in::IntList(std::vector<int64_t>{1, -2, 3})) == "{1,-2,3}");
    BOOST_TEST(sent(in::IntList(std::vector<int64_t>{})) == "{}");
    BOOST_TEST(sent(in::TextList(std::vector<std::string>{"a", "b\"c", "d\\e", ""})) ==
               R"({"a","b\"c","d\\e",""})");
    BOOST_TEST(sent(in::TextList(std::optional<std::vector<std::string>>{})) == "NULL");
}

BOOST_AUTO_TEST_CASE(arguments_refuse_what_does_not_fit) {
    static_assert(!std::is_constructible_v<in::Int, std::string>);
    static_assert(!std::is_constructible_v<in::Int, bool>);
    static_assert(!std::is_constructible_v<in::Int, double>);
    static_assert(!std::is_constructible_v<in::Bool, int>);
    static_assert(!std::is_constructible_v<in::Text, int64_t>);
    static_assert(!std::is_constructible_v<in::Date, std::string>);
    static_assert(!std::is_constructible_v<in::IntList, std::vector<std::string>>);
    static_assert(std::is_constructible_v<in::Float, int>);
    BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(numeric_and_json_columns_write_like_the_database) {
    BOOST_TEST(kiva::js::serialize(Numeric{"12.50"}) == "12.50");
    BOOST_TEST(kiva::js::serialize(Numeric{"NaN"}) == "null");
    BOOST_TEST(kiva::js::serialize(JsonText{R"({"a":[1]})"}) == R"({"a":[1]})");
}

BOOST_AUTO_TEST_CASE(the_compiled_queries_must_be_the_file) {
    auto same = QueryFile::parse("-- name: a^\nSELECT :x;\n-- name: b!\nDELETE FROM t;\n", "q.sql");
    BOOST_CHECK_NO_THROW(check_compiled(same, compiled));
    auto check = [](const std::string& text, const std::string& expected) {
        auto file = QueryFile::parse(text, "q.sql");
        try {
            check_compiled(file, compiled);
            BOOST_ERROR("no error for " << text);
        } catch (const std::runtime_error& e) {
            BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
        }
    };
    check("-- name: a^\nSELECT :y;\n-- name: b!\nDELETE FROM t;\n", "q.sql:1: query a changed");
    check("-- name: a$\nSELECT :x;\n-- name: b!\nDELETE FROM t;\n", "q.sql:1: query a changed");
    check("-- name: a^\nSELECT :x;\n-- name: b!\nDELETE FROM u;\n", "q.sql:3: query b changed");
    check("-- name: a^\nSELECT :x;\n", "query b is missing");
    check("-- name: b!\nDELETE FROM t;\n-- name: a^\nSELECT :x;\n", "query b where the binary has a");
    check("-- name: a^\nSELECT :x;\n-- name: b!\nDELETE FROM t;\n-- name: c\nSELECT 1;\n",
          "q.sql:5: query c is not compiled in");
}

BOOST_AUTO_TEST_CASE(the_sql_line_is_known) {
    auto file = QueryFile::parse("-- name: a^\n-- about a\n\nSELECT\n  :x;\n", "q.sql");
    BOOST_TEST(file.queries()[0].sql_line == 4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(framework_queries)

// The framework's own queries are compiled into the library and match its typed header: the
// worker prepares them first, then the application's, which start at FrameworkQueries' count.
BOOST_AUTO_TEST_CASE(are_built_in_and_match_their_typed_header) {
    auto file = kiva::db::framework_queries();
    BOOST_TEST(file.queries().size() == kiva::db::FrameworkQueries::compiled().size());
    BOOST_CHECK_NO_THROW(kiva::db::check_compiled(file, kiva::db::FrameworkQueries::compiled()));
    BOOST_TEST(file.find("token_state"));
    BOOST_TEST(file.find("auth_throttle"));
    BOOST_TEST(kiva::db::FrameworkQueries::first == 0u);
}

BOOST_AUTO_TEST_CASE(come_before_the_application_queries) {
    BOOST_TEST(api::Queries::first == kiva::db::FrameworkQueries::compiled().size());
    BOOST_TEST(!api::Queries::compiled().empty());
    for (const auto& q : api::Queries::compiled())  // no name of the application's is the framework's
        BOOST_TEST(!kiva::db::framework_queries().find(q.name), "query " << q.name);
}

BOOST_AUTO_TEST_SUITE_END()
