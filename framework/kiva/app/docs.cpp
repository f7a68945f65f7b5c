#include "kiva/app/docs.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kiva {

namespace {

/// What the page loads, and nothing else from the directory.
const std::pair<const char*, const char*> needed[] = {
    {"swagger-ui.css", "text/css; charset=utf-8"},
    {"swagger-ui-bundle.js", "application/javascript; charset=utf-8"},
    {"swagger-ui-standalone-preset.js", "application/javascript; charset=utf-8"},
    {"favicon-32x32.png", "image/png"},
};

std::string html_escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out.push_back(c);
        }
    }
    return out;
}

}  // namespace

DocsFiles::DocsFiles(const std::string& dir) {
    for (const auto& [name, type] : needed) {
        std::ifstream in(dir + "/" + name, std::ios::binary);
        if (!in) throw std::runtime_error("docs_dir " + dir + " has no " + name + " (swagger-ui-dist)");
        std::stringstream text;
        text << in.rdbuf();
        files_[name] = File{type, text.str()};
    }
}

const DocsFiles::File* DocsFiles::find(const std::string& name) const {
    auto it = files_.find(name);
    return it == files_.end() ? nullptr : &it->second;
}

std::string DocsFiles::page(const std::string& base, const std::string& spec) {
    std::string b = html_escaped(base), s = html_escaped(spec);
    // The document's URL is passed in a data attribute, never spliced into the script.
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<title>API documentation</title>\n"
           "<link rel=\"stylesheet\" href=\"" + b + "/swagger-ui.css\">\n"
           "<link rel=\"icon\" type=\"image/png\" href=\"" + b + "/favicon-32x32.png\">\n"
           "</head>\n<body>\n<div id=\"swagger-ui\" data-spec=\"" + s + "\"></div>\n"
           "<script src=\"" + b + "/swagger-ui-bundle.js\"></script>\n"
           "<script src=\"" + b + "/swagger-ui-standalone-preset.js\"></script>\n"
           "<script src=\"" + b + "/init.js\"></script>\n</body>\n</html>\n";
}

}  // namespace kiva
