#include "kiva/jobs/cron.hpp"

#include <array>
#include <cctype>
#include <initializer_list>
#include <stdexcept>
#include <vector>

namespace kiva::jobs {

using namespace std::chrono;

namespace {

struct Field {
    const char* name;
    int low, high;
    const char* const* names;  ///< 3-letter names from `low` on (months, days), or null
};

constexpr const char* month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr std::array<Field, 5> fields{{{"minute", 0, 59, nullptr},
                                       {"hour", 0, 23, nullptr},
                                       {"day-of-month", 1, 31, nullptr},
                                       {"month", 1, 12, month_names},
                                       {"day-of-week", 0, 7, day_names}}};

/// Printable ASCII only, at most 40 characters: what a message quotes.
std::string shown(std::string_view text) {
    std::string out;
    for (char ch : text.substr(0, 40)) out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    return out;
}

/// A message, appended piece by piece (GCC 12 at -O3 warns falsely on "literal" + string).
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto part : parts) out += part;
    return out;
}

/// Text quoted for a message.
std::string quoted(std::string_view text) {
    return cat({"\"", shown(text), "\""});
}

[[noreturn]] void bad(const Field& f, std::string_view why) {
    throw std::invalid_argument(cat({f.name, ": ", why}));
}

int value_of(const Field& f, std::string_view text) {
    if (text.empty()) bad(f, "a value is missing");
    if (std::isdigit(static_cast<unsigned char>(text[0]))) {
        int n = 0;
        for (char ch : text) {
            if (!std::isdigit(static_cast<unsigned char>(ch)) || n > 1000)
                bad(f, cat({quoted(text), " is not a number"}));
            n = n * 10 + (ch - '0');
        }
        if (n < f.low || n > f.high)
            bad(f, cat({shown(text), " is out of ", std::to_string(f.low), "-",
                        std::to_string(f.high)}));
        return n;
    }
    if (f.names && text.size() == 3) {
        std::string lower;
        for (char ch : text)
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        int count = f.low == 1 ? 12 : 7;
        for (int i = 0; i < count; ++i)
            if (lower == f.names[i]) return f.low + i;
    }
    bad(f, cat({quoted(text), " is not ",
                !f.names     ? "a number"
                : f.low == 1 ? "a number or a month name (jan-dec)"
                             : "a number or a day name (sun-sat)"}));
}

/// One field's set of values, as bits from 0; true when it starts with '*'.
template <std::size_t N>
bool parse_field(const Field& f, std::string_view text, std::bitset<N>& out) {
    std::size_t start = 0;
    while (true) {
        std::size_t comma = text.find(',', start);
        std::string_view item =
            text.substr(start, comma == std::string_view::npos ? comma : comma - start);
        if (item.empty()) bad(f, cat({"an empty item in ", quoted(text)}));
        std::string_view range = item;
        int step = 1;
        if (auto slash = item.find('/'); slash != std::string_view::npos) {
            range = item.substr(0, slash);
            std::string_view s = item.substr(slash + 1);
            bool digits = !s.empty() && s.size() <= 4;
            for (char ch : s) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
            if (!digits) bad(f, cat({"the step in ", quoted(item), " is not a number"}));
            step = std::stoi(std::string(s));
            if (step < 1) bad(f, cat({"the step in ", quoted(item), " must be positive"}));
            if (range != "*" && range.find('-') == std::string_view::npos)
                bad(f, cat({"a step follows * or a range a-b (", quoted(item), ")"}));
        }
        int low, high;
        if (range == "*") {
            low = f.low;
            high = f.high == 7 ? 6 : f.high;  // day-of-week: 0-6 (7 is 0 again)
        } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
            low = value_of(f, range.substr(0, dash));
            high = value_of(f, range.substr(dash + 1));
            if (high < low) bad(f, cat({"the range ", quoted(range), " goes downward"}));
        } else {
            low = high = value_of(f, range);
        }
        for (int v = low; v <= high; v += step)
            out.set(static_cast<std::size_t>(v % static_cast<int>(N)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return text.front() == '*';
}

std::string_view shortcut(std::string_view text) {
    if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
    if (text == "@monthly") return "0 0 1 * *";
    if (text == "@weekly") return "0 0 * * 0";
    if (text == "@daily" || text == "@midnight") return "0 0 * * *";
    if (text == "@hourly") return "0 * * * *";
    throw std::invalid_argument(
        cat({"unknown shortcut ", quoted(text),
             " (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"}));
}

/// The Gregorian calendar repeats every 400 years (146,097 days, whole weeks): a date that
/// matches comes within that many days of any day, or never (`0 0 30 2 *`). Most schedules
/// match within a day; February 29th that is a Sunday (`0 0 29 2 */7`) within 28 years or more.
constexpr int search_days = 146097;

}  // namespace

Cron Cron::parse(std::string_view expression) {
    Cron c;
    c.text_ = std::string(expression);
    std::string_view text = expression;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    if (!text.empty() && text.front() == '@') text = shortcut(text);
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i < text.size()) {
        if (std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        parts.push_back(text.substr(i, j - i));
        i = j;
    }
    if (parts.size() != 5)
        throw std::invalid_argument(
            cat({std::to_string(parts.size()),
                 " fields, expected 5: minute hour day-of-month month day-of-week"}));
    parse_field(fields[0], parts[0], c.minutes_);
    parse_field(fields[1], parts[1], c.hours_);
    c.any_day_ = parse_field(fields[2], parts[2], c.days_);
    parse_field(fields[3], parts[3], c.months_);
    c.any_weekday_ = parse_field(fields[4], parts[4], c.weekdays_);
    if (!c.search(sys_seconds{}))
        throw std::invalid_argument(cat({"day-of-month: no date ever matches (", shown(parts[2]),
                                         " in month ", shown(parts[3]), ")"}));
    return c;
}

bool Cron::day_matches(sys_days day) const {
    year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) return false;
    bool dom = days_[static_cast<unsigned>(ymd.day())];
    bool dow = weekdays_[weekday{day}.c_encoding()];
    // Vixie cron: both restricted, either matches; else both (the '*' one always does).
    return any_day_ || any_weekday_ ? dom && dow : dom || dow;
}

std::optional<sys_seconds> Cron::search(sys_seconds t) const {
    auto start = floor<minutes>(t) + minutes(1);
    sys_days day = floor<days>(start);
    int first = static_cast<int>((start - day).count());  // minute of that day
    for (int n = 0; n < search_days; ++n, day += days(1), first = 0) {
        if (!day_matches(day)) continue;
        for (int m = first; m < 24 * 60; ++m) {
            if (!hours_[static_cast<std::size_t>(m / 60)]) {
                m = (m / 60) * 60 + 59;  // the next hour
                continue;
            }
            if (minutes_[static_cast<std::size_t>(m % 60)]) return sys_seconds{day} + minutes(m);
        }
    }
    return std::nullopt;
}

sys_seconds Cron::next_after(sys_seconds t) const {
    // parse() found a match within search_days of the epoch: one exists within as many of any t.
    return *search(t);
}

bool Cron::matches(sys_seconds t) const {
    auto minute = floor<minutes>(t);
    return next_after(minute - minutes(1)) == minute;
}

}  // namespace kiva::jobs
