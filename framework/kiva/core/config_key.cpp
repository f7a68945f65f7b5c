#include "kiva/core/config_key.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "kiva/core/redis_url.hpp"

namespace kiva::config_key {

std::string one_of(const std::vector<std::string_view>& names) {
    std::string words;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) words += i + 1 == names.size() ? " or " : ", ";
        words += names[i];
    }
    return words;
}

std::string Text::parse(std::string_view text, std::string_view key) const {
    if (trimmed) {  // set_option trims outside quotes only
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
            text.remove_prefix(1);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
            text.remove_suffix(1);
    }
    if (required && text.empty())
        throw std::invalid_argument(std::string(key) + " must not be empty");
    return std::string(text);
}

int Mode::parse(std::string_view text, std::string_view key) const {
    int mode = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
    if (ec != std::errc{} || end != text.data() + text.size() || mode < 0 || mode > 0777)
        throw std::invalid_argument(std::string(key) + " must be octal, e.g. 0660");
    return mode;
}

std::string Mode::show(int value) const {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(value) & 0777u);
    return text;
}

unsigned KibSize::parse(std::string_view text, std::string_view key) const {
    std::size_t bytes = parse_size(text);
    if (bytes < min || bytes > max)
        throw std::invalid_argument(std::string(key) + " must be from " + format_size(min) +
                                    " to " + format_size(max));
    return static_cast<unsigned>(bytes / 1024);
}

std::string OneOf::parse(std::string_view text, std::string_view key) const {
    if (std::find(names.begin(), names.end(), text) == names.end())
        throw std::invalid_argument(std::string(key) + " must be " + one_of(names));
    return std::string(text);
}

std::vector<std::string> List::parse(std::string_view text, std::string_view key) const {
    auto items = parse_list(text);
    if (items.empty() && !if_none.empty())
        throw std::invalid_argument(std::string(key) + " " + std::string(if_none));
    if (check)
        for (const auto& item : items) check(item);
    return items;
}

std::string List::show(const std::vector<std::string>& items) const {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
    return text;
}

std::string HeaderName::parse(std::string_view text, std::string_view key) const {
    // A token of RFC 9110 that CGI carries unchanged (HTTP_X_REQUESTED_WITH).
    bool ok = !text.empty() && text.size() <= 64 &&
              std::all_of(text.begin(), text.end(),
                          [](unsigned char ch) { return std::isalnum(ch) || ch == '-'; });
    if (!ok)
        throw std::invalid_argument(std::string(key) +
                                    " must be a header name (letters, digits, -)");
    return std::string(text);
}

std::string CacheUrl::parse(std::string_view text, std::string_view key) const {
    std::string url = Text{.trimmed = true}.parse(text, key);
    if (!url.empty()) cache::parse_redis_url(url);  // a bad URL fails at start
    return url;
}

}  // namespace kiva::config_key
