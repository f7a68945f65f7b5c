#include "kiva/http/request.hpp"

#include <algorithm>
#include <cctype>

namespace kiva {

void Request::reset(Env env, std::string body) {
    env_ = std::move(env);
    body_ = std::move(body);
    method_ = var("REQUEST_METHOD");
    path_ = var("PATH_INFO");
    if (path_.empty()) path_ = "/";  // a request for the mount point itself
    query_ = var("QUERY_STRING");
    content_type_ = var("CONTENT_TYPE");
}

std::string_view Request::var(std::string_view name) const {
    for (const auto& [key, value] : env_)
        if (key == name) return value;
    return {};
}

std::string_view Request::header(std::string_view name) const {
    // CGI spells headers HTTP_UPPER_CASE, except Content-Type and Content-Length.
    std::string cgi;
    if (name.size() > 200) return {};
    std::string upper(name);
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) {
        return c == '-' ? '_' : static_cast<char>(std::toupper(c));
    });
    if (upper == "CONTENT_TYPE" || upper == "CONTENT_LENGTH") return var(upper);
    cgi.reserve(5 + upper.size());
    cgi.append("HTTP_").append(upper);
    return var(cgi);
}

}  // namespace kiva
