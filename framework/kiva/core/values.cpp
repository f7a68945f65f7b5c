#include "kiva/core/values.hpp"

#include <cctype>

namespace kiva {

namespace {

/// Reads exactly n digits at text[pos...]; false when they are not there.
bool digits(std::string_view text, std::size_t& pos, std::size_t n, int& value) {
    if (pos + n > text.size()) return false;
    value = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = text[pos + i];
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    pos += n;
    return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
    if (pos >= text.size() || text[pos] != c) return false;
    ++pos;
    return true;
}

bool leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/// YYYY-MM-DD at text[pos...].
bool date_at(std::string_view text, std::size_t& pos) {
    int y, m, d;
    if (!digits(text, pos, 4, y) || !expect(text, pos, '-') || !digits(text, pos, 2, m) ||
        !expect(text, pos, '-') || !digits(text, pos, 2, d))
        return false;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return false;
    int last = days[m - 1] + (m == 2 && leap(y) ? 1 : 0);
    return d <= last;
}

/// HH:MM at text[pos...], with bounds.
bool hours_minutes(std::string_view text, std::size_t& pos, int max_hours) {
    int h, m;
    return digits(text, pos, 2, h) && expect(text, pos, ':') && digits(text, pos, 2, m) &&
           h <= max_hours && m <= 59;
}

}  // namespace

std::optional<Date> Date::parse(std::string_view text) {
    std::size_t pos = 0;
    if (!date_at(text, pos) || pos != text.size()) return std::nullopt;
    Date d;
    d.text_ = std::string(text);
    return d;
}

std::optional<DateTime> DateTime::parse(std::string_view text) {
    std::size_t pos = 0;
    if (!date_at(text, pos)) return std::nullopt;
    if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
        return std::nullopt;
    ++pos;
    if (!hours_minutes(text, pos, 23)) return std::nullopt;
    int s;
    if (expect(text, pos, ':')) {
        if (!digits(text, pos, 2, s) || s > 59) return std::nullopt;
        if (expect(text, pos, '.')) {
            std::size_t start = pos;
            while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
            if (pos == start || pos - start > 6) return std::nullopt;
        }
    }
    if (pos < text.size()) {
        char zone = text[pos];
        if (zone == 'Z' || zone == 'z') {
            ++pos;
        } else if (zone == '+' || zone == '-') {
            ++pos;
            if (!hours_minutes(text, pos, 15)) return std::nullopt;
        } else {
            return std::nullopt;
        }
    }
    if (pos != text.size()) return std::nullopt;
    DateTime t;
    t.text_ = std::string(text);
    t.text_[10] = 'T';
    return t;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    Uuid u;
    u.text_.reserve(36);
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash) {
            if (c != '-') return std::nullopt;
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return std::nullopt;
        }
        u.text_.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return u;
}

}  // namespace kiva
