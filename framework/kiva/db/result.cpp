#include "kiva/db/result.hpp"

#include <libpq-fe.h>

#include <stdexcept>

#include "kiva/http/router.hpp"

namespace kiva::db {

namespace {

// Type OIDs from pg_type.h (stable across PostgreSQL versions).
constexpr Oid BOOLOID = 16, INT8OID = 20, INT2OID = 21, INT4OID = 23, OIDOID = 26, FLOAT4OID = 700,
              FLOAT8OID = 701, NUMERICOID = 1700, JSONOID = 114, JSONBOID = 3802;

enum class JsonKind { string, integer, number, boolean, raw };

JsonKind kind_of(Oid type) {
    switch (type) {
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case OIDOID:
            return JsonKind::integer;
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
            return JsonKind::number;
        case BOOLOID:
            return JsonKind::boolean;
        case JSONOID:
        case JSONBOID:
            return JsonKind::raw;
        default:
            return JsonKind::string;
    }
}

void write_cell(js::Writer& w, const PGresult* r, int row, int col, JsonKind kind) {
    if (PQgetisnull(r, row, col)) {
        w.Null();
        return;
    }
    const char* text = PQgetvalue(r, row, col);
    auto len = static_cast<std::size_t>(PQgetlength(r, row, col));
    switch (kind) {
        case JsonKind::integer:
            w.RawValue(text, len, rapidjson::kNumberType);
            return;
        case JsonKind::number: {
            // NaN and Infinity are valid SQL numbers but not JSON numbers.
            double ignored;
            if (parse_double(std::string_view(text, len), ignored))
                w.RawValue(text, len, rapidjson::kNumberType);
            else
                w.Null();
            return;
        }
        case JsonKind::boolean:
            w.Bool(text[0] == 't');
            return;
        case JsonKind::raw:
            w.RawValue(text, len, rapidjson::kObjectType);
            return;
        case JsonKind::string:
            w.String(text, static_cast<rapidjson::SizeType>(len));
            return;
    }
}

}  // namespace

void ResultDeleter::operator()(pg_result* r) const {
    PQclear(r);
}

int RowRef::columns() const {
    return PQnfields(result_);
}

std::string_view RowRef::column_name(int column) const {
    return PQfname(result_, column);
}

int RowRef::column(std::string_view name) const {
    for (int c = 0, n = PQnfields(result_); c < n; ++c)
        if (name == PQfname(result_, c)) return c;
    throw std::out_of_range("no column \"" + std::string(name) + "\" in result");
}

bool RowRef::is_null(int column) const {
    return PQgetisnull(result_, row_, column);
}

std::string_view RowRef::text(int column) const {
    return {PQgetvalue(result_, row_, column),
            static_cast<std::size_t>(PQgetlength(result_, row_, column))};
}

namespace {
[[noreturn]] void conversion_error(const RowRef& r, int column, const char* type) {
    throw std::runtime_error("column \"" + std::string(r.column_name(column)) +
                             "\" does not convert to " + type);
}
}  // namespace

template <>
std::string_view RowRef::get<std::string_view>(int column) const {
    if (is_null(column)) conversion_error(*this, column, "a string (NULL)");
    return text(column);
}
template <>
std::string RowRef::get<std::string>(int column) const {
    return std::string(get<std::string_view>(column));
}
template <>
int64_t RowRef::get<int64_t>(int column) const {
    int64_t n;
    if (is_null(column) || !parse_int64(text(column), n))
        conversion_error(*this, column, "an integer");
    return n;
}
template <>
int RowRef::get<int>(int column) const {
    return static_cast<int>(get<int64_t>(column));
}
template <>
double RowRef::get<double>(int column) const {
    double d;
    if (is_null(column) || !parse_double(text(column), d))
        conversion_error(*this, column, "a number");
    return d;
}
template <>
bool RowRef::get<bool>(int column) const {
    if (is_null(column)) conversion_error(*this, column, "a boolean");
    return text(column) == "t";
}

void write(js::Writer& w, const RowRef& row) {
    w.StartObject();
    for (int c = 0, n = PQnfields(row.result_); c < n; ++c) {
        const char* name = PQfname(row.result_, c);
        w.Key(name);
        write_cell(w, row.result_, row.row_, c, kind_of(PQftype(row.result_, c)));
    }
    w.EndObject();
}

int Rows::size() const {
    return PQntuples(result_.get());
}

void write(js::Writer& w, const Rows& rows) {
    const PGresult* r = rows.result_.get();
    int ncols = PQnfields(r);
    // Column kinds once per result, not once per cell.
    JsonKind kinds[64];
    bool fits = ncols <= 64;
    if (fits)
        for (int c = 0; c < ncols; ++c) kinds[c] = kind_of(PQftype(r, c));
    w.StartArray();
    for (int row = 0, n = PQntuples(r); row < n; ++row) {
        w.StartObject();
        for (int c = 0; c < ncols; ++c) {
            w.Key(PQfname(r, c));
            write_cell(w, r, row, c, fits ? kinds[c] : kind_of(PQftype(r, c)));
        }
        w.EndObject();
    }
    w.EndArray();
}

bool Value::is_null() const {
    const PGresult* r = result_.get();
    return PQntuples(r) == 0 || PQnfields(r) == 0 || PQgetisnull(r, 0, 0);
}

void write(js::Writer& w, const Value& value) {
    const PGresult* r = value.result_.get();
    if (value.is_null())
        w.Null();
    else
        write_cell(w, r, 0, 0, kind_of(PQftype(r, 0)));
}

}  // namespace kiva::db
