#pragma once
/// @file
/// Revocation: logout and password changes, seen by every process and host through the
/// database (tables RevokedToken and CredentialChange). A token is refused when it was
/// revoked, or when its login's password changed after it was issued; a password check
/// cached by any process under the old password is then stale (see PasswordCache).

#include <string_view>

#include "kiva/security/auth/token.hpp"

namespace kiva {

struct SecurityScope;

/// Throws auth::AuthError("invalid token") when this authentic token was revoked or issued
/// before its login's password changed. No round trip when the process's RevocationCache
/// answers (kiva/security/revocation_cache.hpp); else one indexed read.
void check_not_revoked(SecurityScope& c, std::string_view token, const auth::VerifiedToken& verified);

/// Revokes the request's token (Bearer or cookie) until it would have expired (POST /logout).
/// When the revocation cache is answering (the default), or with the shared cache, the
/// request's transaction is committed here, so that every process hears of it before the
/// answer: call it last. A logout in the second its token was issued returns once that second
/// has passed, so that a login right after is given another token.
void revoke_request_token(SecurityScope& c);

/// After a password change of login in this transaction: tokens issued so far are refused,
/// and so are the old password's cached checks. Returns once the clock has passed the
/// second of the change, so that a token asked for right after is newer than the change.
/// Commits the request's transaction as revoke_request_token does: call it last.
void credentials_changed(SecurityScope& c, std::string_view login);

}  // namespace kiva
