#include "kiva/observe/exposition.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace kiva::observe {

std::string escape_label_value(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out.push_back(c);
    }
    return out;
}

std::string format_value(double value) {
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value)) return "NaN";
    char text[40];
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        std::snprintf(text, sizeof text, "%.0f", value);
    else
        std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

void Exposition::family(const std::string& name, const std::string& type, const std::string& help) {
    name_ = name;
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Exposition::line(const std::string& name, const Labels& labels, const std::string& extra,
                      const std::string& value) {
    out_.append(name);
    if (!labels.empty() || !extra.empty()) {
        out_.push_back('{');
        bool first = true;
        for (const auto& [k, v] : labels) {
            if (!first) out_.push_back(',');
            first = false;
            out_.append(k).append("=\"").append(escape_label_value(v)).append("\"");
        }
        if (!extra.empty()) out_.append(first ? "" : ",").append(extra);
        out_.push_back('}');
    }
    out_.append(" ").append(value).append("\n");
}

void Exposition::sample(const Labels& labels, double value) {
    line(name_, labels, "", format_value(value));
}

void Exposition::bucket(const Labels& labels, double le, std::uint64_t cumulative) {
    std::string bound = le < 0 ? "+Inf" : format_value(le);
    line(name_ + "_bucket", labels, "le=\"" + bound + "\"", std::to_string(cumulative));
}

void Exposition::sum_count(const Labels& labels, double sum, std::uint64_t count) {
    line(name_ + "_sum", labels, "", format_value(sum));
    line(name_ + "_count", labels, "", std::to_string(count));
}

}  // namespace kiva::observe
