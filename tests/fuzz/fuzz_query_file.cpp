// libFuzzer target: the named queries file parser on arbitrary text. Queries files are written
// by developers, not clients, but the parser is a scanner over quotes, comments and dollar
// tags where an off-by-one reads out of bounds. Invariants: QueryFile::parse only throws
// QueryFileError (naming the source), and on success every query is found by its name, has SQL,
// an origin in the source and unique parameter names numbered in order; translate_parameters
// alone only throws std::invalid_argument, and leaves a text without ':' as it is.

#include "kiva/db/query_file.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool is_identifier(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::string source = "fuzz.sql";

    try {
        const auto file = kiva::db::QueryFile::parse(input, source);
        for (const auto& q : file.queries()) {
            check(is_identifier(q.name));
            check(file.find(q.name) == &q);
            check(!q.sql.empty());
            check(q.origin.compare(0, source.size() + 1, source + ":") == 0);
            for (std::size_t i = 0; i < q.params.size(); ++i) {
                check(is_identifier(q.params[i]));
                for (std::size_t j = 0; j < i; ++j) check(q.params[i] != q.params[j]);
                // $n appears for each parameter.
                check(q.sql.find("$" + std::to_string(i + 1)) != std::string::npos);
            }
        }
    } catch (const kiva::db::QueryFileError& e) {
        check(std::string_view(e.what()).substr(0, source.size()) == source);
    }

    std::vector<std::string> params;
    try {
        const std::string sql = kiva::db::translate_parameters(input, params);
        if (input.find(':') == std::string_view::npos) check(sql == input && params.empty());
        check(params.size() <= input.size() / 2);
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
