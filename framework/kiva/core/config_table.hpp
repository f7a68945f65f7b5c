#pragma once
/// @file
/// The configuration keys as tables, both made from their declaration (config_keys.cpp):
/// `kiva --help`'s, and docs/configuration.md's (`kiva --config-table`), so neither can
/// drift from what the parser reads.

#include <string>

#include "kiva/core/config.hpp"

namespace kiva {

/// A key's default in a file's syntax ("1M", "30s"); empty: see empty_means.
std::string default_value(const ConfigKey& key);
/// What an empty value of the key means ("app_name", "none").
std::string_view empty_means(const ConfigKey& key);

/// One line a key: name, environment variable, help (default).
std::string config_help_table();

/// A markdown table: key, default, meaning (with its docs link).
std::string config_markdown_table();

}  // namespace kiva
