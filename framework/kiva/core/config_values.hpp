#pragma once
/// @file
/// The syntaxes of configuration values, read and written: the parsers of the keys declared in
/// config_keys.cpp, and the writers that show their defaults in `kiva --help` and the docs.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kiva {

/// "1048576", "64K", "1M" -> bytes.
std::size_t parse_size(std::string_view text);
/// "3600", "90s", "5m", "1h", "1d" -> seconds.
std::chrono::seconds parse_duration(std::string_view text);
/// "250ms", "2s", "1m", "0" (a bare number is milliseconds) -> milliseconds.
std::chrono::milliseconds parse_millis(std::string_view text);
/// A decimal integer in [min, max]; else "WHAT must be an integer from MIN to MAX".
long long parse_integer(std::string_view text, long long min, long long max, std::string_view what);
/// 1/true/yes/on, 0/false/no/off, in any case.
bool parse_bool(std::string_view text);
/// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> parse_list(std::string_view text);

/// The shortest text each parser reads back as the same value: 1048576 -> "1M", 3600s -> "1h",
/// 200ms -> "200ms", 2000ms -> "2s".
std::string format_size(std::size_t bytes);
std::string format_duration(std::chrono::seconds value);
std::string format_millis(std::chrono::milliseconds value);

}  // namespace kiva
