#pragma once
/// @file
/// Response: what a handler returns. JSON by default, built with RapidJSON.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiva/core/json.hpp"

namespace kiva {

struct Response {
    int status = 200;
    /// The serialized body; empty for 204.
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    /// A body made while it is sent (a streamed list), instead of `body`: called once with a
    /// function that sends each piece.
    std::function<void(const std::function<void(std::string_view)>& send)> stream;

    Response& header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

/// A JSON response: `json(rows)`, `json(object{{"sid", sid}}, 201)`, `json("hello")`.
template <typename T>
Response json(const T& value, int status = 200) {
    Response r;
    r.status = status;
    r.body = js::serialize(value);
    return r;
}

/// 204 No Content.
inline Response no_content() {
    Response r;
    r.status = 204;
    return r;
}

/// `{"error": message}` with the given status.
Response error_response(int status, std::string_view message);

/// The reason phrase of a status code ("Not Found"), for the Status header.
std::string_view status_reason(int status);

}  // namespace kiva
