#include "kiva/app/idempotency.hpp"

#include "kiva/security/auth/crypto.hpp"

namespace kiva {

std::optional<std::string_view> parse_idempotency_key(std::string_view header) {
    std::string_view key = header;
    if (key.size() >= 2 && key.front() == '"' && key.back() == '"')
        key = key.substr(1, key.size() - 2);
    if (key.empty() || key.size() > 255) return std::nullopt;
    for (unsigned char ch : key)
        if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') return std::nullopt;
    return key;
}

std::string request_fingerprint(std::string_view method, std::string_view path,
                                std::string_view query, std::string_view body) {
    // Lengths first: no choice of path, query and body makes another request's text.
    std::string text;
    text.reserve(64 + path.size() + query.size() + body.size());
    for (std::string_view part : {method, path, query}) {
        text += std::to_string(part.size());
        text += ':';
        text += part;
        text += '\n';
    }
    text += body;
    return auth::to_hex(auth::sha256(text));
}

namespace {

std::string from_hex(std::string_view hex) {
    auto nibble = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return 0;
    };
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
    return out;
}

std::string_view location_of(const Response& r) {
    for (const auto& [name, value] : r.headers)
        if (name == "Location") return value;
    return {};
}

}  // namespace

Response Idempotency::run(Context& c, std::string_view client,
                          const std::function<Response()>& handler) const {
    if (c.request.method() != "POST") return handler();
    std::string_view header = c.request.header("Idempotency-Key");
    if (header.empty()) return handler();
    auto key = parse_idempotency_key(header);
    if (!key)
        throw HttpError(400,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters other than "
                        "'\"' and '\\', optionally in double quotes");
    SecurityScope s = c.security_scope();
    if (!s.q.idempotency_lock(client, *key).value_or(false))
        throw HttpError(409, "a request with this Idempotency-Key is still being processed",
                        {{"Retry-After", "1"}});
    const std::string fingerprint = request_fingerprint(c.request.method(), c.request.path(),
                                                        c.request.query(), c.request.body());
    if (auto row = s.q.idempotency_answer(client, *key)) {
        if (row->fingerprint != fingerprint)
            throw HttpError(422, "this Idempotency-Key was used for another request");
        Response r;
        r.status = row->status;
        r.content_type = row->content_type;
        r.body = from_hex(row->body_hex.value_or(""));
        if (row->location) r.header("Location", *row->location);
        r.header("Idempotent-Replayed", "true");
        return r;
    }
    Response r = handler();
    if (r.status < 400 && !r.stream) {
        std::string_view location = location_of(r);
        s.q.record_idempotency(client, *key, fingerprint, r.status, r.content_type,
                               location.empty() ? std::optional<std::string_view>()
                                                : std::optional<std::string_view>(location),
                               auth::to_hex(r.body), static_cast<int64_t>(ttl_.count()));
    }
    return r;
}

}  // namespace kiva
