#pragma once
/// @file
/// The typed binders config_keys.cpp declares keys with: key() ties a name to a Config member,
/// a value type (which reads, checks and writes the text) and a default. A type's parse()
/// throws std::invalid_argument with the whole message, the key's name included.

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kiva/core/config.hpp"

namespace kiva::config_key {

/// "a, b or c": the words of a message listing choices.
std::string one_of(const std::vector<std::string_view>& names);

/// Any text; `required`: not empty; `trimmed`: spaces inside quotes dropped too.
struct Text {
    using value_type = std::string;
    bool required = false;
    bool trimmed = false;
    std::string parse(std::string_view text, std::string_view key) const;
    std::string show(const std::string& value) const { return value; }
};

/// A decimal integer from min to max.
template <class T>
struct Integer {
    using value_type = T;
    long long min, max;
    T parse(std::string_view text, std::string_view key) const {
        return static_cast<T>(parse_integer(text, min, max, key));
    }
    std::string show(T value) const { return std::to_string(value); }
};

/// Octal permissions, "0660".
struct Mode {
    using value_type = int;
    int parse(std::string_view text, std::string_view key) const;
    std::string show(int value) const;
};

struct Bool {
    using value_type = bool;
    bool parse(std::string_view text, std::string_view) const { return parse_bool(text); }
    std::string show(bool value) const { return value ? "on" : "off"; }
};

/// Bytes, "64K", "1M".
struct Size {
    using value_type = std::size_t;
    std::size_t parse(std::string_view text, std::string_view) const { return parse_size(text); }
    std::string show(std::size_t value) const { return format_size(value); }
};

/// A size in bytes from min to max, kept in KiB.
struct KibSize {
    using value_type = unsigned;
    std::size_t min, max;
    unsigned parse(std::string_view text, std::string_view key) const;
    std::string show(unsigned kib) const { return format_size(std::size_t{kib} * 1024); }
};

/// A duration: seconds ("90s", "5m", a bare number is seconds) or milliseconds ("250ms", "2s",
/// a bare number is milliseconds), from min to max; `nonzero`: "must not be 0" below 1.
template <class D>
struct Duration {
    using value_type = D;
    D min{0};
    D max = D::max();
    bool nonzero = false;
    D parse(std::string_view text, std::string_view key) const {
        D value;
        if constexpr (std::is_same_v<D, std::chrono::seconds>)
            value = parse_duration(text);
        else
            value = parse_millis(text);
        if (nonzero && value.count() == 0)
            throw std::invalid_argument(std::string(key) + " must not be 0");
        if (value < min || value > max)
            throw std::invalid_argument(std::string(key) +
                                        (max == D::max()
                                             ? " must be at least " + show(min)
                                             : " must be from " + show(min) + " to " + show(max)));
        return value;
    }
    std::string show(D value) const {
        if constexpr (std::is_same_v<D, std::chrono::seconds>)
            return format_duration(value);
        else
            return format_millis(value);
    }
};
using Seconds = Duration<std::chrono::seconds>;
using Millis = Duration<std::chrono::milliseconds>;

/// One word among names: "KEY must be a, b or c".
struct OneOf {
    using value_type = std::string;
    std::vector<std::string_view> names;
    std::string parse(std::string_view text, std::string_view key) const;
    std::string show(const std::string& value) const { return value; }
};

/// An enumeration read by its own parser (which may accept aliases); names are the spellings
/// listed in messages and written back.
template <class E>
struct Enum {
    using value_type = E;
    std::optional<E> (*read)(std::string_view);
    std::vector<std::string_view> names;
    E parse(std::string_view text, std::string_view key) const {
        if (auto value = read(text)) return *value;
        throw std::invalid_argument(std::string(key) + " must be " + one_of(names));
    }
    std::string show(E value) const {
        for (auto name : names)
            if (read(name) == value) return std::string(name);
        return "?";
    }
};

/// A comma-separated list; `check` refuses an item (throws); `if_none`, when set, refuses an
/// empty list: "KEY if_none".
struct List {
    using value_type = std::vector<std::string>;
    void (*check)(const std::string& item) = nullptr;
    std::string_view if_none{};
    std::vector<std::string> parse(std::string_view text, std::string_view key) const;
    std::string show(const std::vector<std::string>& items) const;
};

/// An HTTP header name that CGI carries unchanged (letters, digits, -).
struct HeaderName {
    using value_type = std::string;
    std::string parse(std::string_view text, std::string_view key) const;
    std::string show(const std::string& value) const { return value; }
};

/// A Redis URL (kiva/core/redis_url.hpp), or empty: none. A bad one fails at start.
struct CacheUrl {
    using value_type = std::string;
    std::string parse(std::string_view text, std::string_view key) const;
    std::string show(const std::string& value) const { return value; }
};

/// The declaration of one key: its name, the member it sets, its type, its default and its help.
template <class Type>
ConfigKey key(std::string_view name, typename Type::value_type Config::*member, Type type,
              std::type_identity_t<typename Type::value_type> fallback, std::string_view help) {
    ConfigKey k;
    k.name = name;
    k.help = help;
    k.set = [=](Config& c, std::string_view text) { c.*member = type.parse(text, name); };
    k.reset = [=](Config& c) { c.*member = fallback; };
    k.show = [=](const Config& c) { return type.show(c.*member); };
    return k;
}

}  // namespace kiva::config_key
