#pragma once
/// @file
/// argon2id password hashing through Debian's libargon2 (the reference implementation),
/// in its standard encoding "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<digest>".
/// OWASP's parameters are the defaults: 19 MiB, 2 passes, 1 lane.

#include <optional>
#include <string>
#include <string_view>

namespace kiva::security {

struct Argon2Params {
    unsigned memory_kib = 19456;
    unsigned passes = 2;
    unsigned lanes = 1;
};

/// A new argon2id hash with a 16-byte salt from RAND_bytes and a 32-byte digest. Throws
/// std::invalid_argument for a password over 1024 bytes or with a NUL, std::runtime_error
/// when libargon2 fails (bad parameters, no memory).
std::string argon2id_hash(std::string_view password, const Argon2Params& params);

/// True when password matches an argon2id hash; anything malformed gives false.
bool argon2id_verify(std::string_view password, std::string_view hash);

/// The parameters of an argon2id hash, or nullopt when it is not one.
std::optional<Argon2Params> argon2id_params(std::string_view hash);

}  // namespace kiva::security
