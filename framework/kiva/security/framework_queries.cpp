#include "kiva/security/framework_queries.hpp"

#include <stdexcept>

#include "kiva/security/queries.hpp"

namespace kiva::db {

/// framework/sql/queries.sql's text, written into the build by CMake (framework_sql.cpp).
extern const char* const framework_queries_text;

QueryFile framework_queries() {
    return QueryFile::parse(framework_queries_text, "kiva/sql/queries.sql");
}

QueryFile load_queries(const std::string& path, std::span<const CompiledQuery> application,
                       std::size_t application_first) {
    QueryFile all = framework_queries();
    check_compiled(all, FrameworkQueries::compiled());
    const std::size_t first = all.queries().size();
    if (application_first != first)
        throw std::runtime_error("the application's typed queries were generated after " +
                                 std::to_string(application_first) + " framework queries, this "
                                 "framework has " + std::to_string(first) + ": rebuild the application");
    all.append(QueryFile::load(path));
    check_compiled(all, application, first);
    return all;
}

}  // namespace kiva::db
