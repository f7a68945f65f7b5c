#include "kiva/db/typed.hpp"

#include <algorithm>
#include <cstdio>

#include "kiva/http/router.hpp"

namespace kiva::db {

namespace in {

std::string Float::number_text(double d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", d);
    return text;
}

std::string array_text(std::span<const std::string> elements, bool quoted) {
    std::string out = "{";
    for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i) out.push_back(',');
        if (!quoted) {
            out += elements[i];
            continue;
        }
        out.push_back('"');
        for (char c : elements[i]) {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(c);
        }
        out.push_back('"');
    }
    out.push_back('}');
    return out;
}

std::string UuidList::texts(const std::vector<kiva::Uuid>& list) {
    std::vector<std::string> t;
    t.reserve(list.size());
    for (const auto& u : list) t.push_back(u.text());
    return array_text(t, false);
}

}  // namespace in

double Numeric::to_double() const {
    double d = 0;
    parse_double(text, d);
    return d;
}

void write(js::Writer& w, const Numeric& n) {
    // NaN and Infinity are valid SQL numbers but not JSON numbers.
    double ignored;
    if (parse_double(n.text, ignored))
        w.RawValue(n.text.data(), n.text.size(), rapidjson::kNumberType);
    else
        w.Null();
}

void check_compiled(const QueryFile& file, std::span<const CompiledQuery> compiled,
                    std::size_t first, std::size_t count) {
    const auto& all = file.queries();
    first = std::min(first, all.size());
    const std::span<const Query> loaded(all.data() + first, std::min(count, all.size() - first));
    auto stale = [](const std::string& where, const std::string& what) {
        return std::runtime_error(where + ": " + what +
                                  ": the queries file differs from the one this binary was "
                                  "built with (rebuild: make build checks it against the schema)");
    };
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        const Query& q = loaded[i];
        if (i >= compiled.size()) throw stale(q.origin, "query " + q.name + " is not compiled in");
        const CompiledQuery& c = compiled[i];
        std::string params;
        for (const auto& p : q.params) {
            if (!params.empty()) params += ',';
            params += p;
        }
        if (q.name != c.name)
            throw stale(q.origin, "query " + q.name + " where the binary has " + std::string(c.name));
        if (q.kind != c.kind || q.sql != c.sql || params != c.params)
            throw stale(q.origin, "query " + q.name + " changed");
    }
    if (compiled.size() > loaded.size())
        throw stale(loaded.empty() ? std::string("queries file") : loaded.back().origin,
                    "query " + std::string(compiled[loaded.size()].name) + " is missing");
}

}  // namespace kiva::db
