#pragma once
/// @file
/// The run-time side of the typed queries that kiva-querygen writes at build time from the
/// queries file (build/generated/queries.hpp, the `c.q` of a handler):
///
///     std::optional<GetStuffSidRow> get_stuff_sid(in::Int sid);  // ^: one row or none
///     int64_t add_stuff(in::Text stuff);                           // $: one value
///     RowStream<GetStuffAllRow> get_stuff_all();                   // none: the rows
///     int64_t del_stuff_sid(in::Int sid);                          // !: row count
///
/// Arguments are `in::` types that accept only the C++ types fitting the SQL parameter's
/// type, so that a wrong argument fails to compile; std::optional (empty) or nullptr is NULL.

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiva/db/database.hpp"
#include "kiva/db/query_file.hpp"
#include "kiva/core/json.hpp"
#include "kiva/core/values.hpp"

namespace kiva::db {

namespace in {

/// The text sent for one parameter (libpq's text format); no value is SQL NULL.
class Arg {
  public:
    const char* c_str() const { return text_ ? text_->c_str() : nullptr; }

  protected:
    Arg() = default;
    explicit Arg(std::string text) : text_(std::move(text)) {}
    std::optional<std::string> text_;
};

/// `Arg(std::optional<T>)` and `Arg(nullptr)` for every kind below: NULL when empty.
template <typename Self>
class Nullable : public Arg {
  public:
    Nullable(std::nullptr_t) {}       // NOLINT(google-explicit-constructor)
    Nullable(std::nullopt_t) {}       // NOLINT
    template <typename T>
    requires std::constructible_from<Self, const T&> Nullable(const std::optional<T>& v) {  // NOLINT
        if (v) text_ = Self(*v).text_;
    }

  protected:
    /// The text to send (a tag keeps it apart from the public constructors it is inherited with).
    struct Sent {};
    Nullable(Sent, std::string text) : Arg(std::move(text)) {}
    friend Self;
};

template <typename T>
concept Integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>;

/// smallint, integer, bigint, oid.
struct Int : Nullable<Int> {
    using Nullable::Nullable;
    template <Integer T>
    Int(T n) : Nullable(Sent{}, std::to_string(n)) {}  // NOLINT
};
/// real, double precision, numeric.
struct Float : Nullable<Float> {
    using Nullable::Nullable;
    template <typename T>
    requires(Integer<T> || std::floating_point<T>) Float(T n)  // NOLINT
        : Nullable(Sent{}, number_text(static_cast<double>(n))) {}
    static std::string number_text(double d);
};
/// boolean: a bool and nothing that merely converts to one.
struct Bool : Nullable<Bool> {
    using Nullable::Nullable;
    template <std::same_as<bool> T>
    Bool(T b) : Nullable(Sent{}, b ? "true" : "false") {}  // NOLINT
};
/// text, varchar, json and the types without a C++ counterpart (their text form).
struct Text : Nullable<Text> {
    using Nullable::Nullable;
    Text(std::string_view s) : Nullable(Sent{}, std::string(s)) {}   // NOLINT
    Text(const std::string& s) : Nullable(Sent{}, s) {}              // NOLINT
    Text(const char* s) : Nullable(Sent{}, std::string(s)) {}        // NOLINT
};
/// date.
struct Date : Nullable<Date> {
    using Nullable::Nullable;
    Date(const kiva::Date& d) : Nullable(Sent{}, d.text()) {}  // NOLINT
};
/// timestamp, timestamptz.
struct DateTime : Nullable<DateTime> {
    using Nullable::Nullable;
    DateTime(const kiva::DateTime& t) : Nullable(Sent{}, t.text()) {}  // NOLINT
};
/// uuid.
struct Uuid : Nullable<Uuid> {
    using Nullable::Nullable;
    Uuid(const kiva::Uuid& u) : Nullable(Sent{}, u.text()) {}  // NOLINT
};

/// A PostgreSQL array literal of the elements' text ("{1,2}", "{\"a\",\"b\"}").
std::string array_text(std::span<const std::string> elements, bool quoted);

/// bigint[] and the other integer arrays: `= ANY(:ids)`.
struct IntList : Nullable<IntList> {
    using Nullable::Nullable;
    template <Integer T>
    IntList(std::span<const T> list) : Nullable(Sent{}, texts(list)) {}  // NOLINT
    template <Integer T>
    IntList(const std::vector<T>& list) : IntList(std::span<const T>(list)) {}  // NOLINT
    IntList(std::initializer_list<int64_t> list)
        : IntList(std::span<const int64_t>(list.begin(), list.size())) {}

  private:
    template <typename T>
    static std::string texts(std::span<const T> list) {
        std::vector<std::string> t;
        t.reserve(list.size());
        for (T n : list) t.push_back(std::to_string(n));
        return array_text(t, false);
    }
};
/// text[] and varchar[].
struct TextList : Nullable<TextList> {
    using Nullable::Nullable;
    TextList(std::span<const std::string> list) : Nullable(Sent{}, array_text(list, true)) {}  // NOLINT
    TextList(const std::vector<std::string>& list)  // NOLINT
        : TextList(std::span<const std::string>(list)) {}
};
/// uuid[].
struct UuidList : Nullable<UuidList> {
    using Nullable::Nullable;
    UuidList(const std::vector<kiva::Uuid>& list) : Nullable(Sent{}, texts(list)) {}  // NOLINT

  private:
    static std::string texts(const std::vector<kiva::Uuid>& list);
};

}  // namespace in

/// A numeric column: its exact text, written as a JSON number (null when NaN or infinite).
struct Numeric {
    std::string text;
    double to_double() const;
    friend void write(js::Writer& w, const Numeric& n);
};

/// A json or jsonb column: its text, written as is.
struct JsonText {
    std::string text;
    friend void write(js::Writer& w, const JsonText& j) {
        w.RawValue(j.text.data(), j.text.size(), rapidjson::kObjectType);
    }
};

/// A typed column value read from a row (the generated row structs' from()).
template <typename T>
T column(const RowRef& r, int c) {
    if constexpr (std::is_same_v<T, Numeric> || std::is_same_v<T, JsonText>)
        return T{r.get<std::string>(c)};
    else if constexpr (std::is_same_v<T, int32_t>)
        return r.get<int>(c);
    else
        return r.get<T>(c);
}
template <typename T>
std::optional<T> maybe_column(const RowRef& r, int c) {
    if (r.is_null(c)) return std::nullopt;
    return column<T>(r, c);
}

/// The rows of a query without suffix, streamed into the answer by `json(...)`, or read
/// whole by all() for business logic. Like c.db.stream(), it must be the request's last query.
template <typename Row>
class RowStream {
  public:
    explicit RowStream(ResultStream raw) : raw_(std::move(raw)) {}

    /// Every row (a query that returns few).
    std::vector<Row> all() && {
        std::vector<Row> rows;
        raw_.each([&](const RowRef& r) { rows.push_back(Row::from(r)); });
        return rows;
    }

    /// The rows as a JSON list, written while they come (the row structs give the same JSON).
    friend Response json(RowStream rows, int status = 200) {
        return kiva::json(std::move(rows.raw_), status);
    }

  private:
    ResultStream raw_;
};

/// Where a generated function finds its query: its index in the file and its name (checked).
struct QueryRef {
    std::size_t index;
    std::string_view name;
};

using Values = std::initializer_list<const char*>;

inline std::span<const char* const> span_of(Values v) {
    return {v.begin(), v.size()};
}

template <typename Row>
std::optional<Row> typed_row(Database& db, QueryRef q, Values v) {
    Rows rows(db.call(q.index, q.name, QueryKind::row, span_of(v)));
    if (rows.empty()) return std::nullopt;
    return Row::from(rows[0]);
}

template <typename Row>
RowStream<Row> typed_rows(Database& db, QueryRef q, Values v) {
    return RowStream<Row>(db.call_stream(q.index, q.name, span_of(v)));
}

/// A `$` query: its value, nullopt when there is no row or the value is NULL.
template <typename T>
std::optional<T> typed_maybe_value(Database& db, QueryRef q, Values v) {
    Rows rows(db.call(q.index, q.name, QueryKind::value, span_of(v)));
    if (rows.empty()) return std::nullopt;
    return maybe_column<T>(rows[0], 0);
}

/// A `$` query whose value cannot be NULL and whose row is always there (an INSERT
/// RETURNING a NOT NULL column): a missing one is a programming error (500).
template <typename T>
T typed_value(Database& db, QueryRef q, Values v) {
    Rows rows(db.call(q.index, q.name, QueryKind::value, span_of(v)));
    if (rows.empty() || rows[0].is_null(0))
        throw std::logic_error("query " + std::string(q.name) + " returned no value");
    return column<T>(rows[0], 0);
}

inline int64_t typed_count(Database& db, QueryRef q, Values v) {
    return db.call_count(q.index, q.name, span_of(v));
}

/// A query as the generator saw it, compiled into the binary.
struct CompiledQuery {
    std::string_view name;
    QueryKind kind;
    std::string_view sql;     ///< with $1..$n
    std::string_view params;  ///< the names of $1..$n, comma-separated
};

/// Throws std::runtime_error (naming the file's line) unless the queries loaded at start,
/// from index first on (count of them, or all the rest), are exactly those the binary was
/// compiled with: same names in the same order, kinds, SQL and parameters. A changed queries
/// file needs a rebuild, which checks it against the schema.
void check_compiled(const QueryFile& file, std::span<const CompiledQuery> compiled,
                    std::size_t first = 0, std::size_t count = static_cast<std::size_t>(-1));

}  // namespace kiva::db
