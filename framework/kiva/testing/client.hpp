#pragma once
/// @file
/// The test client, in the spirit of Flask's test_client and FlaskTester: the same calls
/// whether the requests run in process (App::handle) or go to a URL (KIVA_TEST_URL).
///
///     auto r = client.get("/items/1").as("calvin");           // the default scheme (Basic)
///     BOOST_TEST(r.status == 200);
///     BOOST_TEST(r.json()["name"] == "pen");
///     client.post("/items").json(object{{"name", "ink"}}).via(Auth::bearer).as("hobbes");
///     client.get("/items").send();                             // no credentials
///     client.get("/admin").expect(403).as("hobbes");           // else UnexpectedStatus

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiva/core/json.hpp"
#include "kiva/testing/reply.hpp"
#include "kiva/testing/transport.hpp"

namespace kiva::testing {

/// How as(login) presents the login: Basic with its password from the table, a Bearer token
/// (made by the App in process; from the login route at a URL), or a token cookie.
enum class Auth { basic, bearer, cookie };

struct ClientOptions {
    /// login -> password, for Basic (and for the login route at a URL).
    std::map<std::string, std::string, std::less<>> passwords;
    /// The scheme of as() when the call does not say via().
    Auth auth = Auth::basic;
    /// At a URL: the route that gives a token for Basic credentials (the JSON body is the
    /// token, or {"token": ...}); with ?cookie=true it sets the token cookie instead.
    std::string login_path = "/login";
    /// At a URL: the header sent with a token cookie on unsafe methods (CSRF protection);
    /// in process the App's configured one is used.
    std::string csrf_header = "X-Requested-With";
};

class Client;

/// One request being built; as() or send() sends it.
class Call {
  public:
    Call(Client& client, std::string method, std::string_view path);

    Call& header(std::string name, std::string value);
    /// A JSON body: any value kiva's JSON writer takes (`object{...}`, a row, a string...).
    template <typename T>
    Call& json(const T& value) {
        return body(js::serialize(value), "application/json");
    }
    /// A JSON body already serialized.
    Call& json_text(std::string text) { return body(std::move(text), "application/json"); }
    /// An application/x-www-form-urlencoded body.
    Call& form(const std::vector<std::pair<std::string, std::string>>& fields);
    /// Query parameters added to the path's, percent-encoded.
    Call& params(const std::vector<std::pair<std::string, std::string>>& fields);
    Call& body(std::string body, std::string content_type);
    /// The scheme as() uses for this call.
    Call& via(Auth auth) {
        auth_ = auth;
        return *this;
    }
    /// The status the answer must have (FlaskTester's `api.get(path, 200)`): another one
    /// throws UnexpectedStatus, which says the request, the status and the body.
    Call& expect(int status) {
        expected_ = status;
        return *this;
    }

    /// Sends it authenticated as login.
    Reply as(std::string_view login);
    /// Sends it without credentials.
    Reply send();

  private:
    Reply checked(Reply reply, std::string_view login) const;

    Client& client_;
    Outgoing out_;
    std::optional<Auth> auth_;
    std::optional<int> expected_;
};

/// What expect() throws: "GET /items/1 as calvin: 401, not 200: {"error": ...}".
struct UnexpectedStatus : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Client {
  public:
    Client(std::unique_ptr<Transport> transport, ClientOptions options);

    Call get(std::string_view path) { return Call(*this, "GET", path); }
    Call post(std::string_view path) { return Call(*this, "POST", path); }
    Call put(std::string_view path) { return Call(*this, "PUT", path); }
    Call patch(std::string_view path) { return Call(*this, "PATCH", path); }
    Call del(std::string_view path) { return Call(*this, "DELETE", path); }
    Call request(std::string method, std::string_view path) {
        return Call(*this, std::move(method), path);
    }

    /// The Authorization value for Basic (std::out_of_range when login has no password).
    std::string basic(std::string_view login) const;
    /// A token for login, kept for the rest of the test case.
    const std::string& token(std::string_view login);
    /// The Cookie header value carrying a token for login, kept likewise.
    const std::string& cookie(std::string_view login);

    /// Adds login's credentials to a request, by scheme.
    void authenticate(Outgoing& request, std::string_view login, std::optional<Auth> auth);
    Reply send(const Outgoing& request) { return transport_->send(request); }
    const ClientOptions& options() const { return options_; }

  private:
    /// GET the login route with Basic; throws std::runtime_error unless it answers 2xx.
    Reply call_login(std::string_view login, bool cookie);

    std::unique_ptr<Transport> transport_;
    ClientOptions options_;
    std::map<std::string, std::string, std::less<>> tokens_, cookies_;
};

/// Percent-encodes for a query string or a form (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);

}  // namespace kiva::testing
