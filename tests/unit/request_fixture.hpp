#pragma once
// A kiva::Request built from plain strings for tests: Request::Env holds string_views, so the
// fixture owns the strings and must outlive every use of its request (it cannot be copied).
//
//     FakeRequest r(RequestSpec("POST", "/stuff").content_type("application/json").body("{}"));

#include <string>
#include <utility>
#include <vector>

#include "kiva/http/request.hpp"

namespace kiva::test {

/// What a request is made of; the setters chain.
class RequestSpec {
  public:
    explicit RequestSpec(std::string method = "GET", std::string path = "/")
        : method_(std::move(method)), path_(std::move(path)) {}

    RequestSpec& query(std::string q) { return var("QUERY_STRING", std::move(q)); }
    RequestSpec& content_type(std::string t) { return var("CONTENT_TYPE", std::move(t)); }
    RequestSpec& body(std::string b) {
        body_ = std::move(b);
        return *this;
    }
    RequestSpec& authorization(std::string value) {
        return var("HTTP_AUTHORIZATION", std::move(value));
    }
    /// Any CGI variable: {"REMOTE_USER", "moe"}, {"HTTP_X_THING", "1"}.
    RequestSpec& var(std::string name, std::string value) {
        vars_.emplace_back(std::move(name), std::move(value));
        return *this;
    }

  private:
    friend class FakeRequest;
    std::string method_, path_, body_;
    std::vector<std::pair<std::string, std::string>> vars_;
};

class FakeRequest {
  public:
    explicit FakeRequest(RequestSpec spec) : vars_(std::move(spec.vars_)) {
        vars_.emplace_back("REQUEST_METHOD", std::move(spec.method_));
        vars_.emplace_back("PATH_INFO", std::move(spec.path_));
        if (!spec.body_.empty())
            vars_.emplace_back("CONTENT_LENGTH", std::to_string(spec.body_.size()));
        // vars_ is complete: the views below stay valid as long as the fixture lives.
        Request::Env env;
        for (const auto& [name, value] : vars_) env.emplace_back(name, value);
        request_.reset(std::move(env), std::move(spec.body_));
    }
    FakeRequest(const FakeRequest&) = delete;
    FakeRequest& operator=(const FakeRequest&) = delete;

    const Request& request() const { return request_; }
    operator const Request&() const { return request_; }  // NOLINT: meant to convert

  private:
    std::vector<std::pair<std::string, std::string>> vars_;
    Request request_;
};

}  // namespace kiva::test
