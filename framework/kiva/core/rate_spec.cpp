#include "kiva/core/rate_spec.hpp"

#include <stdexcept>

#include "kiva/core/config_values.hpp"
#include "kiva/core/text.hpp"

namespace kiva {

std::optional<RateSpec> parse_rate_spec(std::string_view text) {
    text = trim(text);
    if (text.empty() || text == "off") return std::nullopt;
    const auto slash = text.find('/');
    if (slash == std::string_view::npos)
        throw std::invalid_argument("a rate limit is N/T, e.g. 100/1s (or off)");
    std::string_view count = trim(text.substr(0, slash)), window = trim(text.substr(slash + 1));
    if (count.empty() || count.find_first_not_of("0123456789") != std::string_view::npos ||
        count.size() > 7)
        throw std::invalid_argument("a rate limit's N is a number of requests from 1 to 1000000");
    long long n = std::stoll(std::string(count));
    if (n < 1 || n > 1000000)
        throw std::invalid_argument("a rate limit's N is a number of requests from 1 to 1000000");
    if (window.size() == 1 && (window[0] < '0' || window[0] > '9')) {  // "100/s": one unit
        std::string one = "1";
        one += window;
        return parse_rate_spec(std::string(count) + "/" + one);
    }
    std::chrono::seconds t;
    try {
        t = parse_duration(window);
    } catch (const std::invalid_argument&) {
        throw std::invalid_argument("a rate limit's T is a duration from 1s to 1d, e.g. 1s, 1m, 1h");
    }
    if (window.empty() || t.count() < 1 || t.count() > 86400)
        throw std::invalid_argument("a rate limit's T is a duration from 1s to 1d, e.g. 1s, 1m, 1h");
    return RateSpec{static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(t.count())};
}

std::string format_rate_spec(const std::optional<RateSpec>& spec) {
    if (!spec) return "off";
    std::string out = std::to_string(spec->limit);
    out += '/';
    out += format_duration(std::chrono::seconds(spec->seconds));
    return out;
}

}  // namespace kiva
