#pragma once
/// @file
/// FastCGI I/O: the libfcgi adapter's two ends. An FCGX request becomes a plain Request (its
/// environment, then its body, bounded), and a Response is written back as CGI headers and a
/// body (or a stream). Nothing past this file and server.cpp sees a libfcgi type.

#include <fcgiapp.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "kiva/http/request.hpp"
#include "kiva/http/response.hpp"

namespace kiva::fastcgi {

/// The request's environment (FastCGI parameters), without its body yet.
Request request_of(const FCGX_Request& fcgi);

/// Reads the body into out: 0 when done, 413 when larger than limit, 400 for a bad
/// Content-Length. What is not kept is drained, so the connection stays usable.
int read_body(FCGX_Stream* in, std::string_view length_text, std::size_t limit, std::string& out);

/// Writes the status line, headers (CR and LF dropped from values) and body or stream.
void write_response(FCGX_Stream* out, const Response& r);

}  // namespace kiva::fastcgi
