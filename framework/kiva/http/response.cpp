#include "kiva/http/response.hpp"

#include "kiva/core/decode.hpp"

namespace kiva {

Response error_response(int status, std::string_view message) {
    Response r;
    r.status = status;
    if (is_valid_utf8(message)) {
        r.body = js::serialize(object{{"error", message}});
    } else {
        // Messages may quote client bytes: keep the JSON valid whatever they are.
        std::string clean;
        for (unsigned char c : message) clean.push_back(c < 0x80 ? static_cast<char>(c) : '?');
        r.body = js::serialize(object{{"error", clean}});
    }
    return r;
}

std::string_view status_reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Content Too Large";
        case 415:
            return "Unsupported Media Type";
        case 422:
            return "Unprocessable Content";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        default:
            return "Unknown";
    }
}

}  // namespace kiva
