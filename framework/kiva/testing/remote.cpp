#include "kiva/testing/remote.hpp"

namespace kiva::testing {

Reply Remote::send(const Outgoing& request) {
    HttpExchange exchange{request.method,
                          request.path + (request.query.empty() ? "" : "?" + request.query),
                          request.headers, request.body};
    auto answer = http_send(url_, exchange, timeout_, tls_);
    return Reply{answer.status, std::move(answer.headers), std::move(answer.body)};
}

}  // namespace kiva::testing
