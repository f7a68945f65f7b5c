// libFuzzer target: request parameters from arbitrary client input. The input is split at its
// first two newlines into the query string, the content type and the body of a POST to
// /items/42 (path capture id=42). Invariants: Params only ever throws kiva::HttpError (400 or
// 415) whose error response is valid JSON; the path capture always wins; names are unique and
// all found; text results are valid UTF-8 and JSON results serialize to valid JSON.

#include "kiva/http/http_error.hpp"
#include "kiva/http/params.hpp"
#include "kiva/http/request.hpp"
#include "kiva/http/response.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/core/decode.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool valid_utf8(const std::string& text) {
    return kiva::is_valid_utf8(text);
}

bool valid_json(const std::string& text) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    return !d.HasParseError();
}

/// Runs f; the only acceptable failure is an HttpError with a client status and a clean message.
template <typename F>
bool attempt(F&& f) {
    try {
        f();
        return true;
    } catch (const kiva::HttpError& e) {
        check(e.status() == 400 || e.status() == 415);
        const std::string body = kiva::error_response(e.status(), e.what()).body;
        check(kiva::is_valid_utf8(body) && valid_json(body));  // error_response cleans its message
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto next_line = [&] {
        auto nl = input.find('\n');
        std::string_view line = input.substr(0, nl);
        input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
        return std::string(line);
    };
    const std::string query = next_line();
    const std::string content_type = next_line();
    const std::string path = "/items/42";
    kiva::Request::Env env{{"REQUEST_METHOD", "POST"},
                           {"PATH_INFO", path},
                           {"QUERY_STRING", query},
                           {"CONTENT_TYPE", content_type}};
    const kiva::Request request(env, std::string(input));
    const kiva::Params::Captures captures{{"id", std::string_view(path).substr(7)}};

    kiva::Params params(request, captures);
    check(params.get<int64_t>("id") == 42);  // before the body is decoded
    attempt([&] { params.load(); });
    check(params.get<int64_t>("id") == 42);  // the path wins over the query and the body

    std::vector<std::string> names;
    attempt([&] {
        for (auto name : params.names()) names.emplace_back(name);
    });
    for (std::size_t i = 0; i < names.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) check(names[i] != names[j]);
        const std::string& name = names[i];
        check(params.find(name) != nullptr);
        attempt([&] { check(valid_utf8(params.get<std::string>(name))); });
        attempt([&] { (void)params.get<int64_t>(name); });
        attempt([&] { (void)params.get<int>(name); });
        attempt([&] { (void)params.get<double>(name); });
        attempt([&] { (void)params.get<bool>(name); });
        attempt([&] { (void)params.maybe<int64_t>(name); });
        attempt([&] { (void)params.get_or<std::string>(name, "fallback"); });
        attempt([&] { check(valid_json(kiva::js::serialize(params.get<kiva::Json>(name)))); });
    }
    const std::string absent = "never sent";
    bool sent = false;
    for (const auto& name : names) sent = sent || name == absent;
    if (!sent) check(params.find(absent) == nullptr && !params.maybe<int64_t>(absent).has_value());
    return 0;
}
