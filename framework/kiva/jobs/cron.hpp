#pragma once
/// @file
/// Cron schedules for periodic jobs (`app.jobs().cron("census", "0 * * * *", handler)`): the
/// five standard fields, in UTC,
///
///     minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12, jan-dec)  day-of-week (0-7,
///     sun-sat; 7 is Sunday)
///
/// each `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those `a,b-c,*/n`
/// (names are case-insensitive), or one of @yearly (@annually), @monthly, @weekly, @daily
/// (@midnight), @hourly. As in cron (Vixie's, cronie's): when both day-of-month and day-of-week
/// are restricted, a day matches if EITHER does (`0 0 1 * mon`: the 1st and every Monday); a
/// field that starts with `*` (`*`, `*/2`) counts as unrestricted.

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kiva::jobs {

class Cron {
  public:
    /// Parses an expression; throws std::invalid_argument naming the field and what is wrong
    /// (`day-of-month: 32 is out of 1-31`), or saying that no date ever matches (`0 0 30 2 *`).
    static Cron parse(std::string_view expression);

    /// The first scheduled instant strictly after t (a whole minute, UTC).
    std::chrono::sys_seconds next_after(std::chrono::sys_seconds t) const;

    /// Whether the instant t (its minute) is a scheduled one.
    bool matches(std::chrono::sys_seconds t) const;

    /// The expression as declared.
    const std::string& text() const { return text_; }

  private:
    Cron() = default;
    bool day_matches(std::chrono::sys_days day) const;
    std::optional<std::chrono::sys_seconds> search(std::chrono::sys_seconds t) const;

    std::string text_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;      ///< 1-31
    std::bitset<13> months_;    ///< 1-12
    std::bitset<7> weekdays_;   ///< 0 (Sunday) - 6
    bool any_day_ = false;      ///< day-of-month starts with '*'
    bool any_weekday_ = false;  ///< day-of-week starts with '*'
};

}  // namespace kiva::jobs
