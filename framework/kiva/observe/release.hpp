#pragma once
/// @file
/// The release string the binary carries: `make deploy` adds it as the ELF section
/// `.kiva.release` (not loaded in memory), so it is read from the executable file itself.

#include <string>

namespace kiva::observe {

/// The `.kiva.release` section of /proc/self/exe, trimmed and reduced to safe characters,
/// or "dev" for a binary built without one (a development build).
const std::string& release();

/// The section of an ELF64 file at path, or "" (for tests).
std::string read_release_section(const std::string& path);

}  // namespace kiva::observe
