#pragma once
/// @file
/// Idempotent POSTs: a POST sent with `Idempotency-Key: <key>` runs at most once per client
/// (its login when it authenticated, else its address) and key, on any host:
///
///  - first, a transaction-scoped advisory lock on the client and key (another request of
///    the same key meanwhile: 409, it runs nothing);
///  - then the recorded answer, if the key has one that has not expired: the same request
///    (fingerprint: method, path, query, body) gets it again (status, content type, Location,
///    body) with `Idempotent-Replayed: true`; another request: 422;
///  - else the handler runs, and an answer that commits (status below 400) is recorded in the
///    same transaction as the handler's writes. An answer that rolls back (4xx, 5xx, a
///    failed commit) leaves no record, so its retry runs again, and nothing was written.
///    A streamed answer is not recorded (its retry runs again): a POST should not stream.
///
/// Records live idempotency_ttl (24 h by default); each new record deletes at most 100
/// expired ones. The table is the framework's (framework/sql/migrations/0002-idempotency.sql).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kiva/app/context.hpp"
#include "kiva/http/response.hpp"

namespace kiva {

/// The key of an Idempotency-Key header: the draft's quoted string ("...") or the bare key,
/// 1 to 255 visible ASCII characters other than `"` and `\`. nullopt when invalid.
std::optional<std::string_view> parse_idempotency_key(std::string_view header);

/// SHA-256 (hex) of what makes two requests the same: method, path, query and body.
std::string request_fingerprint(std::string_view method, std::string_view path,
                                std::string_view query, std::string_view body);

class Idempotency {
  public:
    explicit Idempotency(std::chrono::seconds ttl) : ttl_(ttl) {}

    /// For a POST with an Idempotency-Key: runs `handler` at most once per client and key
    /// (see above). Without the header, or for another method, runs it. Throws HttpError
    /// 400 (a malformed key), 409 (in progress) and 422 (another request).
    Response run(Context& c, std::string_view client,
                 const std::function<Response()>& handler) const;

  private:
    std::chrono::seconds ttl_;
};

}  // namespace kiva
