// libFuzzer target: the header and configuration parsers of idempotent POSTs and rate limits
// on arbitrary bytes: parse_idempotency_key returns a key of 1 to 255 visible ASCII
// characters inside the input or nullopt; parse_rate_spec returns a spec in its bounds that
// reads back the same, or throws std::invalid_argument; nothing else.

#include "kiva/app/idempotency.hpp"
#include "kiva/core/rate_spec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto key = kiva::parse_idempotency_key(text)) {
        if (key->empty() || key->size() > 255) std::abort();
        if (key->data() < text.data() || key->data() + key->size() > text.data() + text.size())
            std::abort();
        for (unsigned char ch : *key)
            if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') std::abort();
    }
    try {
        if (auto spec = kiva::parse_rate_spec(text)) {
            if (spec->limit < 1 || spec->limit > 1000000 || spec->seconds < 1 ||
                spec->seconds > 86400)
                std::abort();
            if (kiva::parse_rate_spec(kiva::format_rate_spec(spec)) != spec) std::abort();
        }
    } catch (const std::invalid_argument&) {
        // the only acceptable failure
    }
    return 0;
}
