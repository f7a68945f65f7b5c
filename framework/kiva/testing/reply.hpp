#pragma once
/// @file
/// What the test client sends (Outgoing) and gets back (Reply), the same in both modes.

#include <ostream>
#include <string>
#include <string_view>

#include "kiva/testing/http_client.hpp"
#include "kiva/testing/json.hpp"

namespace kiva::testing {

/// A request as the client sends it: the path below the mount point, without its query.
struct Outgoing {
    std::string method = "GET";
    std::string path = "/";
    std::string query;
    Headers headers;
    std::string body;
};

/// An answer: `BOOST_TEST(r.status == 200)`, `r.header("Content-Type")`, `r.json()["iid"]`.
struct Reply {
    int status = 0;
    /// Every header, Content-Type included, in the order they came.
    Headers headers;
    std::string body;

    /// The first header of that name (case-insensitive), or "".
    std::string_view header(std::string_view name) const;
    /// The body as JSON (a view whose valid() is false when it is not JSON).
    Json json() const { return Json(body); }
};

/// "404 {"error": "not found"}": what a failed assertion on a Reply prints.
std::ostream& operator<<(std::ostream& out, const Reply& reply);

}  // namespace kiva::testing
