#pragma once
/// @file
/// A rate limit as configured: `N/T`, at most N requests per window of T (`100/1s`, `20/1m`,
/// `1000/1h`; `100/s` is `100/1s`). "" or `off`: none. Parsed once, at start.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiva {

struct RateSpec {
    std::uint32_t limit = 0;    ///< requests per window, 1 to 1,000,000
    std::uint32_t seconds = 0;  ///< the window, 1 s to 1 day

    bool operator==(const RateSpec&) const = default;
};

/// nullopt for "" or "off"; throws std::invalid_argument saying what is wrong.
std::optional<RateSpec> parse_rate_spec(std::string_view text);
/// As the configuration writes it: "100/1s", "20/1m"; "off" for none.
std::string format_rate_spec(const std::optional<RateSpec>& spec);

}  // namespace kiva
