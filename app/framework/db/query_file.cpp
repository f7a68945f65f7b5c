#include "framework/db/query_file.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace kiva::db {

namespace {

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// "-- name: foo^" -> "foo^"; anything else -> nullopt-like empty view with ok=false.
bool name_line(std::string_view line, std::string_view& spec) {
    line = trim(line);
    if (line.substr(0, 2) != "--") return false;
    line = trim(line.substr(2));
    if (line.substr(0, 5) != "name:") return false;
    spec = trim(line.substr(5));
    return true;
}

}  // namespace

std::string_view suffix(QueryKind kind) {
    switch (kind) {
        case QueryKind::rows: return "";
        case QueryKind::row: return "^";
        case QueryKind::value: return "$";
        case QueryKind::count: return "!";
    }
    return "?";
}

std::string translate_parameters(std::string_view sql, std::vector<std::string>& params) {
    std::string out;
    out.reserve(sql.size());
    std::size_t i = 0, n = sql.size();
    auto copy_until = [&](std::string_view end, const char* what) {
        auto stop = sql.find(end, i);
        if (stop == std::string_view::npos)
            throw std::invalid_argument(std::string("unterminated ") + what);
        out.append(sql.substr(i, stop + end.size() - i));
        i = stop + end.size();
    };
    while (i < n) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            // '' and "" inside are doubled quotes: the scan just restarts after them.
            std::size_t j = i + 1;
            while (true) {
                j = sql.find(c, j);
                if (j == std::string_view::npos)
                    throw std::invalid_argument(c == '\'' ? "unterminated string literal"
                                                          : "unterminated quoted identifier");
                if (j + 1 < n && sql[j + 1] == c) {
                    j += 2;
                    continue;
                }
                break;
            }
            out.append(sql.substr(i, j + 1 - i));
            i = j + 1;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            auto nl = sql.find('\n', i);
            if (nl == std::string_view::npos) nl = n;
            out.append(sql.substr(i, nl - i));
            i = nl;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            copy_until("*/", "comment");
        } else if (c == '$' && (i == 0 || !is_ident_char(sql[i - 1])) && i + 1 < n &&
                   !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            // A dollar quote $tag$...$tag$ (tag possibly empty); $1 is left as it is.
            std::size_t j = i + 1;
            while (j < n && is_ident_char(sql[j])) ++j;
            if (j < n && sql[j] == '$') {
                std::string tag(sql.substr(i, j + 1 - i));
                out.append(tag);
                i = j + 1;
                copy_until(tag, "dollar-quoted string");
            } else {
                out.push_back(c);
                ++i;
            }
        } else if (c == ':' && i + 1 < n && sql[i + 1] == ':') {
            out.append("::");  // a cast, not a parameter
            i += 2;
        } else if (c == ':' && i + 1 < n && is_ident_start(sql[i + 1]) &&
                   (i == 0 || !is_ident_char(sql[i - 1]))) {
            // As aiosql: `:name` not preceded by a word character (so `a[1:n]` is no parameter).
            std::size_t j = i + 1;
            while (j < n && is_ident_char(sql[j])) ++j;
            std::string name(sql.substr(i + 1, j - i - 1));
            std::size_t index = 0;
            while (index < params.size() && params[index] != name) ++index;
            if (index == params.size()) params.push_back(name);
            out.push_back('$');
            out.append(std::to_string(index + 1));
            i = j;
        } else {
            out.push_back(c);
            ++i;
        }
    }
    return out;
}

bool is_plain_read(std::string_view sql) {
    // Words outside literals, quoted identifiers and comments, upper-cased.
    std::vector<std::string> words;
    std::size_t i = 0, n = sql.size();
    while (i < n) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            auto end = sql.find(c, i + 1);
            while (end != std::string_view::npos && end + 1 < n && sql[end + 1] == c) end = sql.find(c, end + 2);
            if (end == std::string_view::npos) return false;
            i = end + 1;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            auto nl = sql.find('\n', i);
            i = nl == std::string_view::npos ? n : nl;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            auto end = sql.find("*/", i + 2);
            if (end == std::string_view::npos) return false;
            i = end + 2;
        } else if (c == '$' && i + 1 < n && !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            return false;  // dollar quotes: do not guess, use a transaction
        } else if (is_ident_start(c)) {
            std::string word;
            while (i < n && is_ident_char(sql[i])) word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
            words.push_back(std::move(word));
        } else {
            ++i;
        }
    }
    if (words.empty()) return false;
    const std::string& first = words.front();
    if (first != "SELECT" && first != "WITH" && first != "VALUES" && first != "TABLE") return false;
    for (const auto& w : words)
        if (w == "INSERT" || w == "UPDATE" || w == "DELETE" || w == "MERGE" || w == "INTO" || w == "CALL" ||
            w == "LOCK" || w == "SHARE" || w == "NEXTVAL" || w == "SETVAL")
            return false;
    return true;
}

QueryFile QueryFile::parse(std::string_view text, const std::string& source) {
    QueryFile file;
    struct Pending {
        Query query;
        std::string body;
        int line = 0;
        bool transaction = false;  ///< `-- kiva: transaction` in the description
    };
    std::vector<Pending> pending;
    int lineno = 0;
    bool in_description = false;
    std::size_t start = 0;
    while (start < text.size()) {
        auto nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(start, nl - start);
        start = nl + 1;
        ++lineno;
        auto where = source + ":" + std::to_string(lineno) + ": ";
        std::string_view spec;
        if (name_line(line, spec)) {
            Pending p;
            p.line = lineno;
            p.query.origin = source + ":" + std::to_string(lineno);
            if (!spec.empty() && (spec.back() == '^' || spec.back() == '$' || spec.back() == '!')) {
                p.query.kind = spec.back() == '^'   ? QueryKind::row
                               : spec.back() == '$' ? QueryKind::value
                                                    : QueryKind::count;
                spec.remove_suffix(1);
            }
            bool valid = !spec.empty() && is_ident_start(spec.front());
            for (char c : spec) valid = valid && is_ident_char(c);
            if (!valid)
                throw QueryFileError(where + "bad query name \"" + std::string(spec) +
                                     "\" (letters, digits and _, then one suffix of ^ $ !)");
            p.query.name = std::string(spec);
            if (auto it = file.index_.find(p.query.name); it != file.index_.end())
                throw QueryFileError(where + "duplicate query name \"" + p.query.name +
                                     "\" (first at " + file.queries_[it->second].origin + ")");
            file.index_[p.query.name] = file.queries_.size();
            file.queries_.push_back(p.query);
            pending.push_back(std::move(p));
            in_description = true;
            continue;
        }
        auto trimmed = trim(line);
        if (pending.empty()) {
            // Before the first name: only comments and blank lines.
            if (!trimmed.empty() && trimmed.substr(0, 2) != "--")
                throw QueryFileError(where + "SQL before the first \"-- name:\" line");
            continue;
        }
        if (in_description && trimmed.substr(0, 2) == "--") {  // the query's description
            if (trimmed.find("kiva: transaction") != std::string_view::npos) pending.back().transaction = true;
            continue;
        }
        in_description = false;
        pending.back().body.append(line).push_back('\n');
    }
    for (auto& p : pending) {
        auto& q = file.queries_[file.index_[p.query.name]];
        std::string_view body = trim(p.body);
        while (!body.empty() && body.back() == ';') body = trim(body.substr(0, body.size() - 1));
        auto where = source + ":" + std::to_string(p.line) + ": ";
        if (body.empty()) throw QueryFileError(where + "query \"" + q.name + "\" has no SQL");
        try {
            q.sql = translate_parameters(body, q.params);
            q.plain_read = !p.transaction && is_plain_read(body);
        } catch (const std::invalid_argument& e) {
            throw QueryFileError(where + "query \"" + q.name + "\": " + e.what());
        }
    }
    return file;
}

QueryFile QueryFile::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw QueryFileError("cannot read queries file " + path);
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

const Query* QueryFile::find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &queries_[it->second];
}

}  // namespace kiva::db
