#include "kiva/testing/http_client.hpp"

#include <strings.h>

#include <stdexcept>

#include "kiva/testing/connection.hpp"

namespace kiva::testing {

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("http client: " + what);
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view header_of(const Headers& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return std::string(s);
}

std::string unchunk(std::string_view body) {
    std::string out;
    for (;;) {
        auto eol = body.find("\r\n");
        if (eol == std::string_view::npos) fail("truncated chunked body");
        std::size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
        body.remove_prefix(eol + 2);
        if (size == 0) return out;
        if (body.size() < size + 2) fail("truncated chunked body");
        out.append(body.substr(0, size));
        body.remove_prefix(size + 2);
    }
}

}  // namespace

HttpAnswer parse_answer(std::string_view raw, bool bodyless) {
    auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos)
        fail("no complete answer (" + std::to_string(raw.size()) + " bytes)");
    std::string_view head = raw.substr(0, end);
    std::string_view body = raw.substr(end + 4);
    HttpAnswer answer;
    auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
        fail("bad status line: " + std::string(status_line));
    answer.status = std::stoi(std::string(status_line.substr(9, 3)));
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!head.empty()) {
        eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        auto colon = line.find(':');
        if (colon != std::string_view::npos)
            answer.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
        head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    }
    if (bodyless || answer.status == 204 || answer.status == 304) {
        return answer;
    } else if (iequals(header_of(answer.headers, "Transfer-Encoding"), "chunked")) {
        answer.body = unchunk(body);
    } else if (auto length = header_of(answer.headers, "Content-Length"); !length.empty()) {
        std::size_t n = std::stoul(std::string(length));
        if (body.size() < n) fail("truncated body");
        answer.body = body.substr(0, n);
    } else {
        answer.body = body;
    }
    return answer;
}

Url parse_url(std::string_view text) {
    Url url;
    if (text.starts_with("https://")) {
        url.tls = true;
        text.remove_prefix(8);
    } else if (text.starts_with("http://")) {
        text.remove_prefix(7);
    } else {
        throw std::invalid_argument("not an http:// or https:// URL: " + std::string(text));
    }
    auto slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    url.prefix = slash == std::string_view::npos ? "" : std::string(text.substr(slash));
    while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
    if (authority.starts_with('[')) {  // [::1]:8080
        auto close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("bad IPv6 address in URL");
        url.host = authority.substr(1, close - 1);
        authority.remove_prefix(close + 1);
        if (authority.starts_with(':')) url.port = authority.substr(1);
    } else {
        auto colon = authority.find(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) url.port = authority.substr(colon + 1);
    }
    if (url.host.empty()) throw std::invalid_argument("no host in URL");
    if (url.port.empty()) url.port = url.tls ? "443" : "80";
    return url;
}

HttpAnswer http_send(const Url& url, const HttpExchange& request, std::chrono::milliseconds timeout,
                     const Tls& tls) {
    Connection connection(url, Connection::Clock::now() + timeout, tls);
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != (url.tls ? "443" : "80")) host += ":" + url.port;
    std::string head = request.method + " " + url.prefix + request.target +
                       " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
    if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD"))
        head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
    connection.write_all(head + "\r\n" + request.body);
    return parse_answer(connection.read_all(), request.method == "HEAD");
}

}  // namespace kiva::testing
