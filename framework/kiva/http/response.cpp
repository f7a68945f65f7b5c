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
    // RFC 9110 section 15, RFC 6585 (428, 429, 431), RFC 7725 (451), RFC 8297 (103), RFC 8470
    // (425): every registered code an application may throw.
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default:
            break;
    }
    // An unregistered code: the name of its class (RFC 9110 15.1 to 15.6).
    switch (status / 100) {
        case 1: return "Informational";
        case 2: return "Successful";
        case 3: return "Redirection";
        case 4: return "Client Error";
        case 5: return "Server Error";
        default: return "Unknown";
    }
}

}  // namespace kiva
