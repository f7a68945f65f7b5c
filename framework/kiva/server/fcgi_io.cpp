// FastCGI I/O: an FCGX request read into a plain Request, a Response written back.
#include "kiva/server/fcgi_io.hpp"

#include <cstdint>
#include <utility>

#include "kiva/http/router.hpp"  // parse_int64

namespace kiva::fastcgi {

namespace {

/// Appends a header line, dropping CR and LF so that no value can inject headers.
void add_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ");
    for (char c : value)
        if (c != '\r' && c != '\n') out.push_back(c);
    out.append("\r\n");
}

/// Reads and throws away what is left of a request body (so the connection stays usable).
void drain(FCGX_Stream* in) {
    char scratch[16384];
    while (FCGX_GetStr(scratch, sizeof scratch, in) > 0) {
    }
}

}  // namespace

Request request_of(const FCGX_Request& fcgi) {
    Request::Env env;
    for (char** p = fcgi.envp; *p; ++p) {
        std::string_view kv(*p);
        auto eq = kv.find('=');
        env.emplace_back(kv.substr(0, eq), eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    }
    return Request(std::move(env));
}

void write_response(FCGX_Stream* out, const Response& r) {
    std::string head;
    head.reserve(128);
    head.append("Status: ")
        .append(std::to_string(r.status))
        .append(" ")
        .append(status_reason(r.status))
        .append("\r\n");
    if (r.status != 204 && r.status != 304) {
        add_header(head, "Content-Type", r.content_type);
        // A streamed body has no length known in advance: the front end chunks it.
        if (!r.stream) add_header(head, "Content-Length", std::to_string(r.body.size()));
    }
    for (const auto& [name, value] : r.headers) add_header(head, name, value);
    head.append("\r\n");
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), out);
    if (r.stream) {
        r.stream([out](std::string_view piece) {
            FCGX_PutStr(piece.data(), static_cast<int>(piece.size()), out);
        });
    } else if (!r.body.empty() && r.status != 204) {
        FCGX_PutStr(r.body.data(), static_cast<int>(r.body.size()), out);
    }
}

int read_body(FCGX_Stream* in, std::string_view length_text, std::size_t limit, std::string& out) {
    int64_t declared = -1;
    if (!length_text.empty() && (!parse_int64(length_text, declared) || declared < 0)) {
        drain(in);
        return 400;
    }
    if (declared > static_cast<int64_t>(limit)) {
        drain(in);
        return 413;
    }
    if (declared >= 0) {
        out.resize(static_cast<std::size_t>(declared));
        std::size_t got = 0;
        while (got < out.size()) {
            int n = FCGX_GetStr(out.data() + got, static_cast<int>(out.size() - got), in);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        out.resize(got);
        return 0;
    }
    // No Content-Length (most GETs, or a chunked body): read until the end, at most
    // limit + 1 bytes, growing as data comes (an empty body allocates nothing).
    out.clear();
    char chunk[8192];
    int n;
    while ((n = FCGX_GetStr(chunk, sizeof chunk, in)) > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
        if (out.size() > limit) break;
    }
    std::size_t got = out.size();
    if (got > limit) {
        drain(in);
        return 413;
    }
    return 0;
}

}  // namespace kiva::fastcgi
