#include "kiva/app/pagination.hpp"

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

std::string Page::next_link(const Request& request, int64_t last_key) {
    std::string link = "<";
    link.append(request.var("SCRIPT_NAME")).append(request.path()).append("?");
    // The request's own parameters, in its order and encoding, without its cursor.
    std::string_view query = request.query();
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        std::string_view name = item.substr(0, item.find('='));
        if (item.empty() || name == "cursor") continue;
        for (unsigned char ch : item) {  // what a Link's <URI> may not hold raw
            if (ch > 0x20 && ch < 0x7f && ch != '<' && ch != '>' && ch != '"' && ch != '\\') {
                link.push_back(static_cast<char>(ch));
            } else {
                static constexpr char hex[] = "0123456789ABCDEF";
                link.push_back('%');
                link.push_back(hex[ch >> 4]);
                link.push_back(hex[ch & 0xf]);
            }
        }
        link.push_back('&');
    }
    link.append("cursor=").append(cursor::seal(last_key)).append(">; rel=\"next\"");
    return link;
}

}  // namespace kiva
