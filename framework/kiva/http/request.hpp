#pragma once
/// @file
/// Request: a plain HTTP request as the front end hands it over FastCGI
/// (the CGI environment plus the body), free of libfcgi types so it can be unit-tested.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiva {

class Request {
  public:
    /// CGI variables (REQUEST_METHOD, PATH_INFO, HTTP_AUTHORIZATION...), by view:
    /// whoever fills the request keeps the storage alive while it is handled.
    using Env = std::vector<std::pair<std::string_view, std::string_view>>;

    Request() = default;
    explicit Request(Env env, std::string body = {}) { reset(std::move(env), std::move(body)); }

    /// Refills the request, keeping allocated capacity (one Request per thread is reused).
    void reset(Env env, std::string body);

    /// The value of a CGI variable, or "" when absent.
    std::string_view var(std::string_view name) const;
    /// A request header by its HTTP name ("Authorization", "Content-Type"...), or "".
    std::string_view header(std::string_view name) const;

    std::string_view method() const { return method_; }
    /// The path below the mount point (PATH_INFO), so the front end can mount the API anywhere.
    std::string_view path() const { return path_; }
    std::string_view query() const { return query_; }
    std::string_view content_type() const { return content_type_; }
    const std::string& body() const { return body_; }
    const Env& env() const { return env_; }
    /// The id this request is known by in logs, audit rows and its answer (X-Request-ID).
    const std::string& id() const { return id_; }
    void set_id(std::string id) { id_ = std::move(id); }

  private:
    Env env_;
    std::string body_;
    std::string id_;
    std::string_view method_, path_, query_, content_type_;
};

}  // namespace kiva
