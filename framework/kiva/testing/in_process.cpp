#include "kiva/testing/in_process.hpp"

#include <strings.h>
#include <cctype>
#include <stdexcept>

namespace kiva::testing {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

InProcess::InProcess(const App& app, const db::QueryFile& queries, const Postgres& server,
                     const SchemaTemplate& schema, const Logger& log)
    : app_(app),
      database_(server, schema),
      db_(queries, database_.conninfo(), "kiva-testing", log) {
    if (!db_.connect())
        throw std::runtime_error("cannot connect to the test case's database " +
                                 database_.conninfo());
}

std::vector<std::pair<std::string, std::string>> cgi_environment(const Outgoing& request) {
    std::vector<std::pair<std::string, std::string>> vars{{"REQUEST_METHOD", request.method},
                                                          {"PATH_INFO", request.path},
                                                          {"QUERY_STRING", request.query},
                                                          {"SCRIPT_NAME", ""},
                                                          {"SERVER_PROTOCOL", "HTTP/1.1"},
                                                          {"REMOTE_ADDR", "127.0.0.1"},
                                                          {"HTTPS", "on"}};
    if (!request.body.empty())
        vars.emplace_back("CONTENT_LENGTH", std::to_string(request.body.size()));
    for (const auto& [name, value] : request.headers) {
        if (iequals(name, "Content-Type")) {
            vars.emplace_back("CONTENT_TYPE", value);
            continue;
        }
        if (iequals(name, "Content-Length")) continue;
        std::string var = "HTTP_";
        for (char c : name)
            var += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        vars.emplace_back(std::move(var), value);
    }
    return vars;
}

Reply InProcess::send(const Outgoing& outgoing) {
    auto vars = cgi_environment(outgoing);  // the strings the Request's views point into
    Request::Env env;
    for (const auto& [name, value] : vars) env.emplace_back(name, value);
    Request request(std::move(env), outgoing.body);
    request.set_id("kiva-testing-" + std::to_string(++sent_));
    db_.set_request_id(request.id());
    Outcome outcome = app_.handle(request, db_);
    Response& response = outcome.response;
    Reply reply{response.status, {}, std::move(response.body)};
    if (response.stream) {  // a streamed list: gathered whole
        reply.body.clear();
        response.stream([&reply](std::string_view piece) { reply.body.append(piece); });
    }
    if (!response.content_type.empty() && response.status != 204)
        reply.headers.emplace_back("Content-Type", response.content_type);
    for (auto& header : response.headers) reply.headers.push_back(std::move(header));
    return reply;
}

std::optional<std::string> InProcess::token_for(std::string_view login) {
    return app_.security().create_token(login);
}

std::optional<std::string> InProcess::cookie_for(std::string_view login) {
    const auto& carrier = app_.security().carrier();
    if (!carrier.cookie())
        throw std::logic_error(
            "cookie authentication needs token_carrier to list cookie "
            "(Setup::configure: config.token_carrier = {\"bearer\", \"cookie\"})");
    std::string set_cookie =
        carrier.set_cookie(*token_for(login), app_.security().token_delay().count());
    return set_cookie.substr(0, set_cookie.find(';'));
}

std::string InProcess::csrf_header() const {
    return app_.security().carrier().csrf_header();
}

}  // namespace kiva::testing
