#include "kiva/testing/client.hpp"

#include <cctype>
#include <sstream>
#include <stdexcept>

#include "kiva/security/auth/base64.hpp"

namespace kiva::testing {

std::string url_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

namespace {

std::string encoded(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [name, value] : fields)
    {
        // Appended piece by piece: GCC 12's -Wrestrict misfires at -O3 on "..." + std::string.
        if (!out.empty()) out += '&';
        out += url_encode(name);
        out += '=';
        out += url_encode(value);
    }
    return out;
}

bool safe(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

}  // namespace

Call::Call(Client& client, std::string method, std::string_view path) : client_(client) {
    out_.method = std::move(method);
    auto question = path.find('?');
    out_.path = path.substr(0, question);
    if (question != std::string_view::npos) out_.query = path.substr(question + 1);
}

Call& Call::header(std::string name, std::string value) {
    out_.headers.emplace_back(std::move(name), std::move(value));
    return *this;
}

Call& Call::form(const std::vector<std::pair<std::string, std::string>>& fields) {
    return body(encoded(fields), "application/x-www-form-urlencoded");
}

Call& Call::params(const std::vector<std::pair<std::string, std::string>>& fields) {
    auto more = encoded(fields);
    out_.query += (out_.query.empty() || more.empty() ? "" : "&") + more;
    return *this;
}

Call& Call::body(std::string body, std::string content_type) {
    out_.body = std::move(body);
    return header("Content-Type", std::move(content_type));
}

Reply Call::as(std::string_view login) {
    client_.authenticate(out_, login, auth_);
    return checked(client_.send(out_), login);
}

Reply Call::send() {
    return checked(client_.send(out_), {});
}

Reply Call::checked(Reply reply, std::string_view login) const {
    if (!expected_ || reply.status == *expected_) return reply;
    std::ostringstream what;
    what << out_.method << " " << out_.path << (out_.query.empty() ? "" : "?") << out_.query
         << (login.empty() ? "" : " as ") << login << ": " << reply.status << ", not " << *expected_
         << ": " << reply.body.substr(0, 400);
    throw UnexpectedStatus(what.str());
}

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
    if (auto header = transport_->csrf_header(); !header.empty()) options_.csrf_header = header;
}

std::string Client::basic(std::string_view login) const {
    auto password = options_.passwords.find(login);
    if (password == options_.passwords.end())
        throw std::out_of_range("no password for " + std::string(login) +
                                " in the test's password table (ClientOptions::passwords)");
    return "Basic " + auth::base64_encode(std::string(login) + ":" + password->second);
}

Reply Client::call_login(std::string_view login, bool cookie) {
    Outgoing request;
    request.path = options_.login_path;
    if (cookie) request.query = "cookie=true";
    request.headers.emplace_back("Authorization", basic(login));
    Reply reply = send(request);
    if (reply.status < 200 || reply.status > 299)
        throw std::runtime_error("GET " + options_.login_path + " as " + std::string(login) +
                                 " answered " + std::to_string(reply.status) + ": " + reply.body);
    return reply;
}

const std::string& Client::token(std::string_view login) {
    if (auto known = tokens_.find(login); known != tokens_.end()) return known->second;
    std::optional<std::string> token = transport_->token_for(login);
    if (!token) {
        Json body = call_login(login, false).json();
        Json value = body.is_object() ? body["token"] : body;
        if (!value.is_string())
            throw std::runtime_error(options_.login_path + " gave no token: " + body.text());
        token = value.str();
    }
    return tokens_.emplace(std::string(login), std::move(*token)).first->second;
}

const std::string& Client::cookie(std::string_view login) {
    if (auto known = cookies_.find(login); known != cookies_.end()) return known->second;
    std::optional<std::string> cookie = transport_->cookie_for(login);
    if (!cookie) {
        Reply reply = call_login(login, true);
        std::string set_cookie(reply.header("Set-Cookie"));
        if (set_cookie.empty())
            throw std::runtime_error(options_.login_path + "?cookie=true set no cookie");
        cookie = set_cookie.substr(0, set_cookie.find(';'));
    }
    return cookies_.emplace(std::string(login), std::move(*cookie)).first->second;
}

void Client::authenticate(Outgoing& request, std::string_view login, std::optional<Auth> auth) {
    switch (auth.value_or(options_.auth)) {
        case Auth::basic:
            request.headers.emplace_back("Authorization", basic(login));
            break;
        case Auth::bearer:
            request.headers.emplace_back("Authorization", "Bearer " + token(login));
            break;
        case Auth::cookie:
            request.headers.emplace_back("Cookie", cookie(login));
            if (!safe(request.method))
                request.headers.emplace_back(options_.csrf_header, "kiva-testing");
            break;
    }
}

}  // namespace kiva::testing
