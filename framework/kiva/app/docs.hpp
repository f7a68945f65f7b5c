#pragma once
/// @file
/// The docs page: Swagger UI (npm's swagger-ui-dist, read from a directory at start, never a
/// CDN) showing the OpenAPI document of the same API, "try it out" going through the same
/// front end. GET /docs is the page, GET /docs/<file> the few files it loads.

#include <map>
#include <string>

namespace kiva {

class DocsFiles {
  public:
    /// Reads the files Swagger UI needs from dir; throws std::runtime_error when one is missing.
    explicit DocsFiles(const std::string& dir);

    /// The page, loading its scripts from `base` (".../docs") and the document from `spec`.
    static std::string page(const std::string& base, const std::string& spec);

    struct File {
        std::string type;
        std::string body;
    };
    /// The file, or null when it is not one Swagger UI needs.
    const File* find(const std::string& name) const;

  private:
    std::map<std::string, File> files_;
};

}  // namespace kiva
