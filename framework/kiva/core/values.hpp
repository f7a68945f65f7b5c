#pragma once
/// @file
/// Value types of parameters and path segments beyond numbers and strings: Date
/// (YYYY-MM-DD), DateTime (ISO 8601: YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|+HH:MM]) and Uuid
/// (8-4-4-4-12 hex digits). Each is valid once made: parse() refuses what is not one.
/// They are written to JSON as strings and passed to PostgreSQL as their text.

#include <optional>
#include <string>
#include <string_view>

#include "kiva/core/json.hpp"

namespace kiva {

class Date {
  public:
    /// A real calendar day (leap years included), or nullopt.
    static std::optional<Date> parse(std::string_view text);
    const std::string& text() const { return text_; }
    friend bool operator==(const Date&, const Date&) = default;
    friend void write(js::Writer& w, const Date& d) { js::write(w, d.text_); }

  private:
    std::string text_;
};

class DateTime {
  public:
    /// A date, `T` or a space, a time and an optional zone; nullopt otherwise.
    static std::optional<DateTime> parse(std::string_view text);
    const std::string& text() const { return text_; }
    friend bool operator==(const DateTime&, const DateTime&) = default;
    friend void write(js::Writer& w, const DateTime& t) { js::write(w, t.text_); }

  private:
    std::string text_;
};

class Uuid {
  public:
    /// 8-4-4-4-12 hexadecimal digits, either case (kept in lower case), or nullopt.
    static std::optional<Uuid> parse(std::string_view text);
    const std::string& text() const { return text_; }
    friend bool operator==(const Uuid&, const Uuid&) = default;
    friend void write(js::Writer& w, const Uuid& u) { js::write(w, u.text_); }

  private:
    std::string text_;
};

}  // namespace kiva
