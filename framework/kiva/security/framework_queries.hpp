#pragma once
/// @file
/// The framework's own queries (framework/sql/queries.sql), compiled into the library: the
/// worker prepares them before the application's, with the indices the typed header
/// (kiva/security/queries.hpp, db::FrameworkQueries) was generated for.

#include <span>
#include <string>

#include "kiva/db/query_file.hpp"
#include "kiva/db/typed.hpp"

namespace kiva::db {

/// The framework's queries file as it was built (its text is in the library).
QueryFile framework_queries();

/// The framework's queries, then the application's file at path: what the worker prepares.
/// Throws QueryFileError (an unreadable file, a syntax error, a name the framework uses) and
/// std::runtime_error when either part differs from what the binary was compiled with.
QueryFile load_queries(const std::string& path, std::span<const CompiledQuery> application,
                       std::size_t application_first);

}  // namespace kiva::db
