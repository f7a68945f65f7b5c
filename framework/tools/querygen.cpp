// kiva-querygen: writes the typed queries header (build/generated/queries.hpp) from the
// queries file, checked against a database holding the schema: every query is prepared,
// its parameter and column types read with PQdescribePrepared, its columns' nullability
// from pg_attribute. A query that does not fit the schema is reported as
// `sql/queries.sql:LINE: query NAME: <PostgreSQL's message>` and nothing is written.
// app/tools/querygen.sh runs it against a throwaway cluster (the build's custom command).
//
//   kiva-querygen --conninfo "host=/tmp/x port=5432 dbname=postgres"
//                 --queries sql/queries.sql --out build/generated/queries.hpp

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kiva/db/query_file.hpp"

namespace {

using kiva::db::Query;
using kiva::db::QueryKind;

struct Column {
    std::string name;
    std::string type;  ///< the C++ type of the field
    bool nullable = true;
};

struct Described {
    const Query* query;
    std::size_t index;
    std::vector<std::string> param_types;  ///< in:: classes
    std::vector<Column> columns;
    std::string row_type;  ///< for row and rows queries
    std::string table;     ///< the table whose every column it returns, if any
};

struct TypeInfo {
    std::string name;
    char category = 'U';
    unsigned elem = 0;
};

class Connection {
  public:
    explicit Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::cerr << "kiva-querygen: cannot connect to the schema database: "
                      << PQerrorMessage(conn_);
            std::exit(1);
        }
    }
    ~Connection() { PQfinish(conn_); }
    PGconn* get() const { return conn_; }

    /// One text row of a catalogue query with text parameters, or empty.
    std::vector<std::string> row(const char* sql, std::vector<std::string> args) {
        std::vector<const char*> values;
        for (auto& a : args) values.push_back(a.c_str());
        PGresult* r = PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, 0);
        std::vector<std::string> out;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            for (int c = 0; c < PQnfields(r); ++c) out.emplace_back(PQgetvalue(r, 0, c));
        PQclear(r);
        return out;
    }

    const TypeInfo& type(Oid oid) {
        auto it = types_.find(oid);
        if (it != types_.end()) return it->second;
        auto r = row("SELECT typname, typcategory, typelem FROM pg_type WHERE oid = $1",
                     {std::to_string(oid)});
        TypeInfo& t = types_[oid];
        if (r.size() == 3) {
            t.name = r[0];
            t.category = r[1].empty() ? 'U' : r[1][0];
            t.elem = static_cast<unsigned>(std::stoul(r[2]));
        }
        return t;
    }

    bool not_null(Oid table, int column) {
        auto r = row("SELECT attnotnull FROM pg_attribute WHERE attrelid = $1 AND attnum = $2",
                     {std::to_string(table), std::to_string(column)});
        return !r.empty() && r[0] == "t";
    }

    /// The table's name when columns are exactly its columns, else "".
    std::string whole_table(Oid table, const std::vector<int>& attnums) {
        auto r = row("SELECT relname, (SELECT count(*) FROM pg_attribute WHERE attrelid = $1 "
                     "AND attnum > 0 AND NOT attisdropped) FROM pg_class WHERE oid = $1",
                     {std::to_string(table)});
        std::vector<int> sorted = attnums;
        std::sort(sorted.begin(), sorted.end());
        bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
        if (r.size() != 2 || !distinct || std::to_string(attnums.size()) != r[1]) return "";
        return r[0];
    }

  private:
    PGconn* conn_;
    std::map<Oid, TypeInfo> types_;
};

std::string param_class(Connection& db, Oid oid) {
    const TypeInfo& t = db.type(oid);
    const std::string n = t.name;
    if (n == "int2" || n == "int4" || n == "int8" || n == "oid") return "in::Int";
    if (n == "float4" || n == "float8" || n == "numeric") return "in::Float";
    if (n == "bool") return "in::Bool";
    if (n == "date") return "in::Date";
    if (n == "timestamp" || n == "timestamptz") return "in::DateTime";
    if (n == "uuid") return "in::Uuid";
    if (t.category == 'A' && t.elem) {
        std::string e = db.type(t.elem).name;
        if (e == "int2" || e == "int4" || e == "int8" || e == "oid") return "in::IntList";
        if (e == "text" || e == "varchar" || e == "bpchar" || e == "name") return "in::TextList";
        if (e == "uuid") return "in::UuidList";
    }
    return "in::Text";
}

std::string field_type(Connection& db, Oid oid) {
    const std::string& n = db.type(oid).name;
    if (n == "int8" || n == "oid") return "int64_t";
    if (n == "int2" || n == "int4") return "int32_t";
    if (n == "float4" || n == "float8") return "double";
    if (n == "numeric") return "Numeric";
    if (n == "bool") return "bool";
    if (n == "json" || n == "jsonb") return "JsonText";
    return "std::string";  // text, dates and times (their ISO text, as JSON has them), uuid...
}

std::string upper_words(std::string_view sql) {
    std::string out;
    for (char c : sql) {
        char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (std::isspace(static_cast<unsigned char>(u))) u = ' ';
        if (u == ' ' && !out.empty() && out.back() == ' ') continue;
        out.push_back(u);
    }
    return " " + out + " ";
}

bool has_outer_join(const std::string& words) {
    for (const char* w : {" LEFT JOIN ", " LEFT OUTER ", " RIGHT JOIN ", " RIGHT OUTER ",
                          " FULL JOIN ", " FULL OUTER "})
        if (words.find(w) != std::string::npos) return true;
    return false;
}

/// An INSERT ... VALUES ... RETURNING: exactly one row (a value that cannot be missing).
bool one_row_insert(const std::string& words) {
    return words.rfind(" INSERT ", 0) == 0 && words.find(" VALUES ") != std::string::npos &&
           words.find(" SELECT ") == std::string::npos &&
           words.find(" ON CONFLICT ") == std::string::npos;
}

std::string camel(const std::string& name) {
    std::string out;
    bool up = true;
    for (char c : name) {
        if (c == '_') {
            up = true;
            continue;
        }
        out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
        up = false;
    }
    return out;
}

std::string literal(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out.push_back(c);
        }
    }
    return out + "\"";
}

/// The file's line of character `position` (1-based, PostgreSQL's) of a query's SQL.
int line_of(const Query& q, const char* position) {
    int line = q.sql_line;
    if (!position) return line;
    long pos = std::atol(position);
    for (long i = 0; i + 1 < pos && i < static_cast<long>(q.sql.size()); ++i)
        if (q.sql[static_cast<std::size_t>(i)] == '\n') ++line;
    return line;
}

std::string source_of(const Query& q) {
    return q.origin.substr(0, q.origin.rfind(':'));
}

std::string one_line(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

bool describe(Connection& db, const Query& q, std::size_t index, Described& out) {
    std::string statement = "kiva_q" + std::to_string(index);
    PGresult* r = PQprepare(db.get(), statement.c_str(), q.sql.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        const char* hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
        std::cerr << source_of(q) << ":" << line_of(q, PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION))
                  << ": query " << q.name << ": ERROR: "
                  << one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
                  << (detail ? " DETAIL: " + one_line(detail) : "")
                  << (hint ? " HINT: " + one_line(hint) : "") << "\n";
        PQclear(r);
        return false;
    }
    PQclear(r);
    r = PQdescribePrepared(db.get(), statement.c_str());
    out.query = &q;
    out.index = index;
    for (int i = 0; i < PQnparams(r); ++i) out.param_types.push_back(param_class(db, PQparamtype(r, i)));
    std::string words = upper_words(q.sql);
    bool outer = has_outer_join(words);
    Oid only_table = PQnfields(r) > 0 ? PQftable(r, 0) : InvalidOid;
    std::vector<int> attnums;
    for (int c = 0; c < PQnfields(r); ++c) {
        Column col{PQfname(r, c), field_type(db, PQftype(r, c)), true};
        Oid table = PQftable(r, c);
        if (!outer && table != InvalidOid) col.nullable = !db.not_null(table, PQftablecol(r, c));
        if (table != only_table) only_table = InvalidOid;
        attnums.push_back(PQftablecol(r, c));
        out.columns.push_back(col);
    }
    if (only_table != InvalidOid && !outer) out.table = db.whole_table(only_table, attnums);
    PQclear(r);
    if (q.kind != QueryKind::count && out.columns.empty()) {
        std::cerr << q.origin << ": query " << q.name << " returns no column: use the suffix ! "
                  << "for a statement whose row count matters\n";
        return false;
    }
    if (q.kind == QueryKind::value) {
        // A value from a NOT NULL column of the one row an INSERT ... VALUES returns is
        // always there; anything else may be missing.
        if (!one_row_insert(words)) out.columns[0].nullable = true;
    }
    return true;
}

std::string shape(const std::vector<Column>& columns) {
    std::string s;
    for (const auto& c : columns) s += c.name + ":" + c.type + (c.nullable ? "?" : "") + ";";
    return s;
}

std::string field_decl(const Column& c) {
    return c.nullable ? "std::optional<" + c.type + ">" : c.type;
}

/// The JSON Schema of a column's JSON value.
std::string column_schema(const Column& c) {
    std::string type = c.type == "int64_t" || c.type == "int32_t" ? "integer"
                       : c.type == "double" || c.type == "Numeric" ? "number"
                       : c.type == "bool"                           ? "boolean"
                       : c.type == "JsonText"                       ? ""
                                                                    : "string";
    if (type.empty()) return "{}";
    return c.nullable ? R"({"type":[")" + type + R"(","null"]})" : R"({"type":")" + type + R"("})";
}

void write_row_struct(std::ostream& out, const std::string& name, const std::vector<Column>& cols,
                      const Query& q) {
    out << "/// A row of " << q.name << " (" << q.origin << ").\n";
    out << "struct " << name << " {\n";
    for (const auto& c : cols) out << "    " << field_decl(c) << " " << c.name << ";\n";
    std::string schema = R"({"type":"object","properties":{)", required;
    for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i) {
            schema += ',';
            required += ',';
        }
        schema += literal(cols[i].name);
        schema += ':';
        schema += column_schema(cols[i]);
        required += literal(cols[i].name);
    }
    schema += R"(},"required":[)" + required + "]}";
    out << "\n    /// For the OpenAPI document (Routes::returns).\n"
        << "    static constexpr std::string_view schema_name = " << literal(name) << ";\n"
        << "    static constexpr std::string_view json_schema = " << literal(schema) << ";\n";
    out << "\n    static " << name << " from(const RowRef& r) {\n        return {";
    for (std::size_t i = 0; i < cols.size(); ++i)
        out << (i ? ", " : "") << (cols[i].nullable ? "maybe_column<" : "column<") << cols[i].type
            << ">(r, " << i << ")";
    out << "};\n    }\n";
    out << "    friend void write(js::Writer& w, const " << name << "& row) {\n"
        << "        using js::write;\n        w.StartObject();\n";
    for (const auto& c : cols)
        out << "        w.Key(" << literal(c.name) << ");\n        write(w, row." << c.name << ");\n";
    out << "        w.EndObject();\n    }\n};\n\n";
}

void write_member(std::ostream& out, const Described& d) {
    const Query& q = *d.query;
    std::string args, values;
    for (std::size_t i = 0; i < q.params.size(); ++i) {
        if (i) {
            args += ", ";
            values += ", ";
        }
        args += d.param_types[i];
        args += ' ';
        args += q.params[i];
        values += q.params[i];
        values += ".c_str()";
    }
    std::string ref = "{first + " + std::to_string(d.index) + ", " + literal(q.name) + "}";
    std::string first_line = q.sql.substr(0, q.sql.find('\n'));
    out << "    /// " << q.origin << ": " << first_line << "\n    ";
    switch (q.kind) {
        case QueryKind::rows:
            out << "RowStream<" << d.row_type << "> " << q.name << "(" << args << ") {\n"
                << "        return typed_rows<" << d.row_type << ">(*db_, " << ref;
            break;
        case QueryKind::row:
            out << "std::optional<" << d.row_type << "> " << q.name << "(" << args << ") {\n"
                << "        return typed_row<" << d.row_type << ">(*db_, " << ref;
            break;
        case QueryKind::value: {
            const Column& c = d.columns[0];
            if (c.nullable)
                out << "std::optional<" << c.type << "> " << q.name << "(" << args << ") {\n"
                    << "        return typed_maybe_value<" << c.type << ">(*db_, " << ref;
            else
                out << c.type << " " << q.name << "(" << args << ") {\n"
                    << "        return typed_value<" << c.type << ">(*db_, " << ref;
            break;
        }
        case QueryKind::count:
            out << "int64_t " << q.name << "(" << args << ") {\n"
                << "        return typed_count(*db_, " << ref;
            break;
    }
    out << ", {" << values << "});\n    }\n";
}

/// What the generated header is called and where its queries sit in the worker's list.
struct Naming {
    std::string ns = "kiva::db";  ///< the namespace of the rows and the class
    std::string cls = "Queries";
    std::size_t first = 0;        ///< index of the first query (after the framework's)
    bool context = false;         ///< also a Context with `q` (an application's header)
};

std::string header(const std::string& source, std::vector<Described>& all, const Naming& n) {
    std::ostringstream out;
    out << "// Generated by kiva-querygen from " << source
        << " and the schema: do not edit.\n"
        << "#pragma once\n\n#include <array>\n#include <cstdint>\n#include <optional>\n"
        << "#include <string>\n\n#include \"kiva/db/typed.hpp\"\n";
    if (n.context) out << "#include \"kiva/app/context.hpp\"\n";
    out << "\nnamespace " << n.ns << " {\n\nusing namespace ::kiva;\nusing namespace ::kiva::db;\n\n";
    std::map<std::string, std::string> shapes;  // shape -> struct name
    std::map<std::string, std::string> table_shapes;  // table name -> the shape named after it
    for (auto& d : all) {
        if (d.query->kind != QueryKind::row && d.query->kind != QueryKind::rows) continue;
        // A row of a whole table is named after it (StuffRow), any other after its query.
        std::string name = camel(d.query->name) + "Row";
        if (!d.table.empty()) {
            auto [t, fresh] = table_shapes.emplace(d.table, shape(d.columns));
            if (fresh || t->second == shape(d.columns)) {
                std::string table = d.table;
                table[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(table[0])));
                name = camel(table) + "Row";
            }
        }
        if (auto known = shapes.find(shape(d.columns)); known != shapes.end() && known->second == name) {
            d.row_type = name;
            continue;
        }
        auto [it, fresh] = shapes.emplace(shape(d.columns), name);
        if (fresh)
            write_row_struct(out, name, d.columns, *d.query);
        else
            out << "/// A row of " << d.query->name << ": the same columns.\nusing " << name
                << " = " << it->second << ";\n\n";
        d.row_type = name;
    }
    out << "/// The queries of " << source << ", typed: `c.q.get_stuff_sid(sid)`.\n"
        << "class " << n.cls << " {\n  public:\n    explicit " << n.cls
        << "(Database& db) : db_(&db) {}\n\n";
    for (const auto& d : all) write_member(out, d);
    out << "\n    /// What was compiled, checked against the queries loaded at start.\n"
        << "    static std::span<const CompiledQuery> compiled() { return compiled_; }\n"
        << "    /// Where these queries start in the worker's list (the framework's come first).\n"
        << "    static constexpr std::size_t first = " << n.first << ";\n\n"
        << "  private:\n    Database* db_;\n"
        << "    static constexpr std::array<CompiledQuery, " << all.size() << "> compiled_{{\n";
    for (const auto& d : all) {
        std::string params;
        for (const auto& p : d.query->params) {
            if (!params.empty()) params += ',';
            params += p;
        }
        out << "        {" << literal(d.query->name) << ", QueryKind::"
            << (d.query->kind == QueryKind::rows    ? "rows"
                : d.query->kind == QueryKind::row   ? "row"
                : d.query->kind == QueryKind::value ? "value"
                                                    : "count")
            << ", " << literal(d.query->sql) << ", " << literal(params) << "},\n";
    }
    out << "    }};\n};\n\n";
    if (n.context)
        out << "/// The application's Context: the framework's, plus its typed queries `c.q`.\n"
            << "struct Context : ::kiva::Context {\n"
            << "    " << n.cls << " q;\n"
            << "    explicit Context(const ::kiva::Context& c) : ::kiva::Context(c), q(c.db) {}\n};\n\n";
    out << "}  // namespace " << n.ns << "\n";
    return out.str();
}

}  // namespace

int main(int argc, char** argv) {
    std::string conninfo, queries_path, out_path, after_path;
    Naming naming;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--context") {
            naming.context = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::cerr << "kiva-querygen: " << a << " needs a value\n";
            return 2;
        }
        std::string v = argv[++i];
        if (a == "--conninfo") conninfo = v;
        else if (a == "--queries") queries_path = v;
        else if (a == "--out") out_path = v;
        else if (a == "--after") after_path = v;
        else if (a == "--namespace") naming.ns = v;
        else if (a == "--class") naming.cls = v;
        else {
            std::cerr << "kiva-querygen: unknown option " << a << "\n";
            return 2;
        }
    }
    if (conninfo.empty() || queries_path.empty() || out_path.empty()) {
        std::cerr << "usage: kiva-querygen --conninfo CONNINFO --queries FILE --out HEADER\n"
                     "         [--after FRAMEWORK_QUERIES] [--namespace NS] [--class NAME] [--context]\n";
        return 2;
    }
    kiva::db::QueryFile file;
    try {
        file = kiva::db::QueryFile::load(queries_path);
        if (!after_path.empty()) {  // the framework's queries come first, with their names
            auto before = kiva::db::QueryFile::load(after_path);
            naming.first = before.queries().size();
            before.append(file);  // throws on a name used twice
        }
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    Connection db(conninfo);
    std::vector<Described> all;
    bool ok = true;
    for (std::size_t i = 0; i < file.queries().size(); ++i) {
        Described d;
        if (describe(db, file.queries()[i], i, d))
            all.push_back(std::move(d));
        else
            ok = false;
    }
    if (!ok) {
        std::cerr << "kiva-querygen: " << queries_path << " does not fit the schema\n";
        return 1;
    }
    std::string text = header(queries_path, all, naming);
    std::string tmp = out_path + ".tmp";
    {
        std::ofstream out(tmp);
        out << text;
        if (!out) {
            std::cerr << "kiva-querygen: cannot write " << tmp << "\n";
            return 1;
        }
    }
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
        std::cerr << "kiva-querygen: cannot write " << out_path << "\n";
        return 1;
    }
    return 0;
}
