#pragma once
/// @file
/// Request ids: the id that ties a request's lines together, from the client to the front
/// end's log, the worker's lines and the audit rows.

#include <string>
#include <string_view>

#include "kiva/http/request.hpp"

namespace kiva {

/// Whether text may be kept as a request id: 1 to 64 of letters, digits and "-_.:+=@".
bool is_safe_request_id(std::string_view text);

/// The request's id: the client's X-Request-ID when it is safe, else the front end's
/// (nginx's $request_id passed as REQUEST_ID, Apache mod_unique_id's UNIQUE_ID), else a new
/// random one (32 hex digits).
std::string request_id_of(const Request& request);

}  // namespace kiva
