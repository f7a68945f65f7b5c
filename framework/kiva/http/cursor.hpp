#pragma once
/// @file
/// The cursor of keyset pagination: the last key a page gave, sealed so that a client treats
/// it as opaque. `c1` + the key (16 hex digits, a 64-bit integer) + a check (16 hex digits of
/// SHA-256 over the rest): URL-safe, 34 characters. It is not secret and grants nothing (any
/// key could be asked with a filter); the check makes an edited or truncated cursor a 400
/// instead of a silent jump. Unit-tested and fuzzed (tests/fuzz/fuzz_conditional.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiva::cursor {

/// The cursor that resumes after key.
std::string seal(int64_t key);

/// The key of a cursor made by seal(); nullopt when it is not one (tampered, truncated).
std::optional<int64_t> open(std::string_view cursor);

}  // namespace kiva::cursor
