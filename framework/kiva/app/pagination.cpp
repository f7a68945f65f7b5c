#include "kiva/app/pagination.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

#include "kiva/http/cursor.hpp"

namespace kiva {

Page PageParam::extract(Context& c) const {
    auto limit = c.params.maybe<int64_t>("limit");
    auto cursor = c.params.maybe<std::string>("cursor");
    if (limit && *limit < 1) throw HttpError(400, "limit must be at least 1");
    if (cursor && !limit) throw HttpError(400, "cursor is sent with limit (the next page's Link has both)");
    std::optional<int64_t> after;
    if (cursor) {
        after = cursor::open(*cursor);
        if (!after) throw HttpError(400, "invalid cursor: send the one a Link header gave");
    }
    return Page(limit, after);
}

namespace {

/// A parameter's text as a query string carries it (a JSON body's string or number too).
std::string text_of(const ParamValue& p) {
    if (!p.json) return p.text;
    if (p.json->IsString()) return {p.json->GetString(), p.json->GetStringLength()};
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    p.json->Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

/// Percent-encodes all but RFC 3986's unreserved characters.
void append_encoded(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char ch : text) {
        if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out.push_back(static_cast<char>(ch));
        } else {
            out.push_back('%');
            out.push_back(hex[ch >> 4]);
            out.push_back(hex[ch & 0xf]);
        }
    }
}

}  // namespace

std::string Page::next_link(const Context& c, int64_t last_key) {
    std::string link = "<";
    link.append(c.request.var("SCRIPT_NAME")).append(c.request.path()).append("?");
    // The request's own parameters (query string, form or JSON body: limit, filters), in the
    // query string, without its cursor nor the path's segments.
    for (std::string_view name : c.params.names()) {
        if (name == "cursor") continue;
        for (const ParamValue* p : c.params.all(name)) {
            if (p->source == 0) continue;
            append_encoded(link, name);
            link.push_back('=');
            append_encoded(link, text_of(*p));
            link.push_back('&');
        }
    }
    link.append("cursor=").append(cursor::seal(last_key)).append(">; rel=\"next\"");
    return link;
}

}  // namespace kiva
