#include "kiva/security/auth/jwt_json.hpp"

#include "kiva/core/utf8.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <limits>
#include <stdexcept>

// Two defects of RapidJSON 1.1.0 (the last release, Debian's) shape this file:
// - its UTF-8 validation (kParse/kWriteValidateEncodingFlag) reads a multi-byte sequence's
//   continuation bytes without bounds checks: a truncated sequence at the end of the input
//   reads (and, parsing in situ, writes) past it. We validate UTF-8 ourselves first and never
//   ask RapidJSON to.
// - it computes null + offset the first time one of its internal stacks grows, which clang's
//   -fsanitize=undefined rejects (Tencent/rapidjson#1724, fixed after the release).
//   Documents, string buffers and writers of objects all grow one, so we stay on the paths
//   that never do: a SAX reader parsing in situ and recursively (the handler bounds the
//   depth), and a writer that only writes one lone string.

namespace kiva::auth {
namespace {

constexpr int max_depth = 16;

/// Collects the top-level members of an object; refuses anything else.
class ObjectHandler {
  public:
    explicit ObjectHandler(JsonObject& members) : members_(members) {}

    bool Null() { return value(JsonMember{}); }
    bool Bool(bool) { return value(JsonMember{}); }
    bool Int(int i) { return integer(i); }
    bool Uint(unsigned u) { return integer(u); }
    bool Int64(std::int64_t i) { return integer(i); }
    bool Uint64(std::uint64_t u) {
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return value(JsonMember{});
        return integer(static_cast<std::int64_t>(u));
    }
    bool Double(double) { return value(JsonMember{}); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return value(JsonMember{}); }
    bool String(const char* s, rapidjson::SizeType length, bool) {
        return value(JsonMember{JsonMember::Kind::string, std::string(s, length), 0});
    }
    bool Key(const char* s, rapidjson::SizeType length, bool) {
        if (depth_ == 1) key_.assign(s, length);
        return true;
    }
    bool StartObject() { return open(); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool StartArray() { return depth_ > 0 && open(); }  // the root must be an object
    bool EndArray(rapidjson::SizeType) { return close(); }

  private:
    bool integer(std::int64_t i) { return value(JsonMember{JsonMember::Kind::integer, {}, i}); }

    /// A complete value: kept when it is a top-level member, ignored when nested deeper.
    bool value(JsonMember member) {
        if (depth_ == 0) return false;  // a scalar root
        if (depth_ > 1) return true;
        return members_.emplace(std::move(key_), std::move(member)).second;
    }

    bool open() {
        if (depth_ == max_depth) return false;
        ++depth_;
        return true;
    }

    bool close() {
        --depth_;
        // A nested object or array just ended: it was the value of a top-level member.
        return depth_ == 1 ? value(JsonMember{}) : true;
    }

    JsonObject& members_;
    std::string key_;
    int depth_ = 0;
};

/// A RapidJSON output stream appending to a std::string.
struct StringOutput {
    using Ch = char;
    std::string& out;
    void Put(char c) { out += c; }
    void Flush() {}
};

}  // namespace

std::optional<JsonObject> parse_json_object(std::string json) {
    // In situ parsing stops at the first NUL, which valid JSON text never holds raw.
    if (json.find('\0') != std::string::npos || !is_valid_utf8(json)) return std::nullopt;
    JsonObject members;
    ObjectHandler handler(members);
    rapidjson::InsituStringStream stream(json.data());
    rapidjson::Reader reader;
    if (!reader.Parse<rapidjson::kParseInsituFlag>(stream, handler)) return std::nullopt;
    return members;
}

std::string json_string(std::string_view utf8) {
    if (!is_valid_utf8(utf8) || utf8.size() > std::numeric_limits<rapidjson::SizeType>::max())
        throw std::invalid_argument("string is not valid UTF-8");
    std::string out;
    StringOutput stream{out};
    rapidjson::Writer<StringOutput> writer(stream);
    // RapidJSON asserts on a null pointer, which an empty string_view may carry.
    writer.String(utf8.empty() ? "" : utf8.data(), static_cast<rapidjson::SizeType>(utf8.size()));
    return out;
}

}  // namespace kiva::auth
