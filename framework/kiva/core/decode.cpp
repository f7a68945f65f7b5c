#include "kiva/core/decode.hpp"

namespace kiva {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

void parse_urlencoded(std::string_view text,
                      const std::function<void(std::string name, std::string value)>& on_pair) {
    while (!text.empty()) {
        auto amp = text.find('&');
        std::string_view piece = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (piece.empty()) continue;
        auto eq = piece.find('=');
        if (eq == std::string_view::npos)
            on_pair(percent_decode(piece), std::string{});
        else
            on_pair(percent_decode(piece.substr(0, eq)), percent_decode(piece.substr(eq + 1)));
    }
}

}  // namespace kiva
