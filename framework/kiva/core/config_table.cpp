#include "kiva/core/config_table.hpp"

#include <algorithm>

namespace kiva {

namespace {

/// Help for a terminal: `code` spans unquoted.
std::string plain(std::string_view text) {
    std::string out;
    for (char c : text)
        if (c != '`') out.push_back(c);
    return out;
}

}  // namespace

std::string default_value(const ConfigKey& key) {
    return key.show(Config{});
}

std::string_view empty_means(const ConfigKey& key) {
    return key.if_empty.empty() ? "none" : key.if_empty;
}

std::string config_help_table() {
    std::size_t width = 0;
    for (const auto& k : config_keys()) width = std::max(width, k.name.size());
    std::string out;
    for (const auto& k : config_keys()) {
        std::string name(k.name), env = env_name(k.name);
        name.resize(width, ' ');
        env.resize(width + 5, ' ');  // "KIVA_"
        std::string value = default_value(k);
        out += "  " + name + " " + env + " " + plain(k.help) + " (" +
               (value.empty() ? plain(empty_means(k)) : value) + ")\n";
    }
    return out;
}

std::string config_markdown_table() {
    std::string out = "| key | default | meaning |\n|---|---|---|\n";
    for (const auto& k : config_keys()) {
        std::string value = default_value(k);
        // Appended piece by piece: GCC 12's -Wrestrict misfires at -O3 on "(" + std::string(...).
        std::string shown(value.empty() ? "(" : "`");
        shown += value.empty() ? std::string(empty_means(k)) : value;
        shown += value.empty() ? ")" : "`";
        std::string meaning(k.help);
        if (!k.see_page.empty())
            meaning += " (see [" + std::string(k.see_title) + "](" + std::string(k.see_page) + "))";
        out += "| " + std::string(k.name) + " | " + shown + " | " + meaning + " |\n";
    }
    return out;
}

}  // namespace kiva
