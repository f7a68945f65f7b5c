#pragma once
/// @file
/// Query results: Rows (a list), Row (one row), Value (one value), owning the libpq result.
/// They write themselves as JSON (rows as objects, columns typed from their SQL types),
/// and give typed access for business logic: `row.get<int64_t>("sid")`.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kiva/core/json.hpp"

struct pg_result;  // libpq's PGresult, kept out of handler-facing headers

namespace kiva::db {

struct ResultDeleter {
    void operator()(pg_result* r) const;
};
using ResultHandle = std::unique_ptr<pg_result, ResultDeleter>;

/// A view of one row of a result (valid while the result lives).
class RowRef {
  public:
    RowRef(const pg_result* result, int row) : result_(result), row_(row) {}

    int columns() const;
    std::string_view column_name(int column) const;
    /// The column's index; throws std::out_of_range for an unknown name.
    int column(std::string_view name) const;
    bool is_null(int column) const;
    bool is_null(std::string_view name) const { return is_null(column(name)); }
    /// The text of a value ("" for NULL).
    std::string_view text(int column) const;

    /// Typed access: std::string, std::string_view, int64_t, int, double, bool;
    /// throws std::runtime_error on NULL or a value that does not convert.
    template <typename T>
    T get(int column) const;
    template <typename T>
    T get(std::string_view name) const {
        return get<T>(column(name));
    }
    /// nullopt for NULL.
    template <typename T>
    std::optional<T> maybe(std::string_view name) const {
        int c = column(name);
        if (is_null(c)) return std::nullopt;
        return get<T>(c);
    }

    friend void write(js::Writer& w, const RowRef& row);

  private:
    const pg_result* result_;
    int row_;
};

template <>
std::string_view RowRef::get<std::string_view>(int column) const;
template <>
std::string RowRef::get<std::string>(int column) const;
template <>
int64_t RowRef::get<int64_t>(int column) const;
template <>
int RowRef::get<int>(int column) const;
template <>
double RowRef::get<double>(int column) const;
template <>
bool RowRef::get<bool>(int column) const;

/// All the rows of a result.
class Rows {
  public:
    explicit Rows(ResultHandle result) : result_(std::move(result)) {}
    int size() const;
    bool empty() const { return size() == 0; }
    RowRef operator[](int row) const { return RowRef(result_.get(), row); }

    class iterator {
      public:
        iterator(const pg_result* r, int i) : r_(r), i_(i) {}
        RowRef operator*() const { return RowRef(r_, i_); }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator!=(const iterator& o) const { return i_ != o.i_; }

      private:
        const pg_result* r_;
        int i_;
    };
    iterator begin() const { return iterator(result_.get(), 0); }
    iterator end() const { return iterator(result_.get(), size()); }

    /// A list of objects, one per row.
    friend void write(js::Writer& w, const Rows& rows);

  private:
    ResultHandle result_;
};

/// The first row of a result (the `^` suffix), owning it.
class Row {
  public:
    explicit Row(ResultHandle result) : result_(std::move(result)) {}
    RowRef ref() const { return RowRef(result_.get(), 0); }
    template <typename T>
    T get(std::string_view name) const {
        return ref().get<T>(name);
    }
    template <typename T>
    std::optional<T> maybe(std::string_view name) const {
        return ref().maybe<T>(name);
    }
    bool is_null(std::string_view name) const { return ref().is_null(name); }
    friend void write(js::Writer& w, const Row& row) { write(w, row.ref()); }

  private:
    ResultHandle result_;
};

/// The first column of the first row (the `$` suffix); null when there is no row.
class Value {
  public:
    explicit Value(ResultHandle result) : result_(std::move(result)) {}
    bool is_null() const;
    explicit operator bool() const { return !is_null(); }
    template <typename T>
    T get() const {
        return RowRef(result_.get(), 0).get<T>(0);
    }
    /// The value typed from its SQL type; null when there is no row.
    friend void write(js::Writer& w, const Value& value);

  private:
    ResultHandle result_;
};

}  // namespace kiva::db
