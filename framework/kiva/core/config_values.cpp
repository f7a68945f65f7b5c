#include "kiva/core/config_values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "kiva/core/text.hpp"

namespace kiva {

long long parse_integer(std::string_view text, long long min, long long max,
                        std::string_view what) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        throw std::invalid_argument(std::string(what) + " must be an integer from " +
                                    std::to_string(min) + " to " + std::to_string(max));
    return value;
}

bool parse_bool(std::string_view text) {
    std::string t(text);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
    if (t == "0" || t == "false" || t == "no" || t == "off") return false;
    throw std::invalid_argument("expected a boolean (true/false)");
}

std::vector<std::string> parse_list(std::string_view text) {
    std::vector<std::string> items;
    std::string item;
    std::istringstream in{std::string(text)};
    while (std::getline(in, item, ',')) {
        auto t = trim(item);
        if (!t.empty()) items.emplace_back(t);
    }
    return items;
}

std::size_t parse_size(std::string_view text) {
    text = trim(text);
    std::size_t unit = 1;
    if (!text.empty()) {
        switch (std::toupper(static_cast<unsigned char>(text.back()))) {
            case 'K':
                unit = 1024;
                break;
            case 'M':
                unit = 1024 * 1024;
                break;
            case 'G':
                unit = 1024 * 1024 * 1024;
                break;
        }
        if (unit != 1) text.remove_suffix(1);
    }
    auto n = parse_integer(text, 0, std::numeric_limits<int>::max(), "a size");
    return static_cast<std::size_t>(n) * unit;
}

std::chrono::seconds parse_duration(std::string_view text) {
    text = trim(text);
    long long unit = 1;
    if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back()))) {
        switch (text.back()) {
            case 's':
                unit = 1;
                break;
            case 'm':
                unit = 60;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'd':
                unit = 86400;
                break;
            default:
                throw std::invalid_argument("a duration ends with s, m, h or d");
        }
        text.remove_suffix(1);
    }
    return std::chrono::seconds(parse_integer(text, 0, 10LL * 365 * 86400, "a duration") * unit);
}

std::chrono::milliseconds parse_millis(std::string_view text) {
    text = trim(text);
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms")
        return std::chrono::milliseconds(
            parse_integer(text.substr(0, text.size() - 2), 0, 86400000LL, "a duration"));
    if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back())))
        return parse_duration(text);
    return std::chrono::milliseconds(parse_integer(text, 0, 86400000LL, "a duration"));
}

namespace {

/// n in the largest unit that divides it exactly: {1024, "K"}... from the largest.
template <std::size_t N>
std::string in_largest_unit(unsigned long long n,
                            const std::pair<unsigned long long, char> (&units)[N]) {
    if (n == 0) return "0";
    for (const auto& [size, suffix] : units)
        if (n % size == 0) return std::to_string(n / size) + suffix;
    return std::to_string(n);
}

}  // namespace

std::string format_size(std::size_t bytes) {
    static constexpr std::pair<unsigned long long, char> units[] = {
        {1ULL << 30, 'G'}, {1ULL << 20, 'M'}, {1ULL << 10, 'K'}};
    return in_largest_unit(bytes, units);
}

std::string format_duration(std::chrono::seconds value) {
    static constexpr std::pair<unsigned long long, char> units[] = {
        {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    return in_largest_unit(static_cast<unsigned long long>(value.count()), units);
}

std::string format_millis(std::chrono::milliseconds value) {
    if (value.count() % 1000 == 0)
        return format_duration(std::chrono::duration_cast<std::chrono::seconds>(value));
    return std::to_string(value.count()) + "ms";
}

}  // namespace kiva
