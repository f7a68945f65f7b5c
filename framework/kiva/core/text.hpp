#pragma once
/// @file
/// Trimming, the two ways the framework needs it: any white space (files a person writes:
/// configuration, queries) and HTTP's optional white space (spaces and tabs, RFC 9110 OWS).

#include <cctype>
#include <string_view>

namespace kiva {

/// Without leading and trailing white space (std::isspace).
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// Without leading and trailing spaces and tabs (HTTP's OWS around header values and lists).
inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace kiva
