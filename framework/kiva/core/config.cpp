#include "kiva/core/config.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kiva/core/text.hpp"

namespace kiva {

Config::Config() {
    for (const auto& k : config_keys()) k.reset(*this);
}

std::string env_name(std::string_view key) {
    std::string name = "KIVA_";
    for (char c : key)
        name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return name;
}

void set_option(Config& c, std::string_view key, std::string_view raw) {
    std::string_view value = trim(raw);
    // "Quoted values" may hold anything; otherwise " #" starts a comment.
    if (auto close = value.find('"', 1);
        !value.empty() && value.front() == '"' && close != std::string_view::npos &&
        (trim(value.substr(close + 1)).empty() || trim(value.substr(close + 1)).front() == '#')) {
        value = value.substr(1, close - 1);
    } else if (auto hash = value.find(" #"); hash != std::string_view::npos) {
        value = trim(value.substr(0, hash));
    }
    const ConfigKey* k = find_config_key(key);
    if (!k) throw std::invalid_argument("unknown option \"" + std::string(key) + "\"");
    k->set(c, value);
}

Config parse_config(std::string_view text, const std::string& source, Config base) {
    Config c = std::move(base);
    c.source = source;
    int lineno = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        auto eq = line.find('=');
        auto where = source + ":" + std::to_string(lineno) + ": ";
        if (eq == std::string_view::npos) throw std::runtime_error(where + "expected key = value");
        try {
            set_option(c, trim(line.substr(0, eq)), line.substr(eq + 1));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(where + e.what());
        }
    }
    return c;
}

Config load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read configuration file " + path);
    std::stringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

void apply_env(Config& c, const std::map<std::string, std::string>& env) {
    for (const auto& k : config_keys()) {
        auto it = env.find(env_name(k.name));
        if (it == env.end()) continue;
        try {
            set_option(c, k.name, it->second);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(it->first + ": " + e.what());
        }
    }
}

void validate(const Config& c) {
    if (c.database.empty()) throw std::runtime_error("no database configured (option database)");
    if (c.auth.empty()) throw std::runtime_error("option auth lists no scheme");
    if (!c.cache.empty() && !c.auth_state)
        throw std::runtime_error(
            "cache needs auth_state (its verdicts are read from the database)");
}

std::string resolve_path(const Config& c, const std::string& path) {
    if (path.empty() || path.front() == '/' || c.source.empty()) return path;
    auto slash = c.source.rfind('/');
    if (slash == std::string::npos) return path;
    return c.source.substr(0, slash + 1) + path;
}

}  // namespace kiva
