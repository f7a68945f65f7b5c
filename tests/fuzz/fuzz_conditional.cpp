// libFuzzer target: the conditional request headers and the page cursor, from arbitrary client
// input (If-None-Match, If-Match, the cursor query parameter). Invariants: never a crash;
// a parsed list is `*` alone or one or more tags whose opaque parts are views into the input,
// free of quotes and control characters; a tag list matches itself (weakly); a cursor opens
// only when it is exactly the seal of its key.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kiva/http/cursor.hpp"
#include "kiva/http/etag.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (auto c = kiva::etag::parse(input)) {
        check(c->any ? c->tags.empty() : !c->tags.empty());
        for (const auto& t : c->tags) {
            check(t.opaque.data() >= input.data() &&
                  t.opaque.data() + t.opaque.size() <= input.data() + input.size());
            for (unsigned char ch : t.opaque) check(ch != '"' && ch > 0x20 && ch != 0x7f);
            std::string tag = "\"" + std::string(t.opaque) + "\"";
            check(kiva::etag::none_match_hits(*c, tag));
            check(kiva::etag::match_holds(*c, tag) == (!t.weak || [&] {
                      for (const auto& u : c->tags)
                          if (!u.weak && u.opaque == t.opaque) return true;
                      return false;
                  }()));
        }
    }
    if (auto key = kiva::cursor::open(input)) check(kiva::cursor::seal(*key) == input);
    return 0;
}
