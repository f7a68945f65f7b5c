#include "kiva/db/query_file.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "kiva/core/text.hpp"

namespace kiva::db {

namespace {

bool is_ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
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
        case QueryKind::rows:
            return "";
        case QueryKind::row:
            return "^";
        case QueryKind::value:
            return "$";
        case QueryKind::count:
            return "!";
    }
    return "?";
}

/// Where the literal or comment starting at i ends (the index after it), i itself when none
/// starts there. Throws std::invalid_argument when it never ends. Knows PostgreSQL's
/// 'strings' ('' inside), E'escaped \' strings', "identifiers", -- and nested /* */ comments,
/// and $tag$ dollar quotes.
std::size_t skip_literal(std::string_view sql, std::size_t i) {
    std::size_t n = sql.size();
    char c = sql[i];
    if (c == '\'' || c == '"') {
        bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                       (i == 1 || !is_ident_char(sql[i - 2]));
        for (std::size_t j = i + 1; j < n; ++j) {
            if (escapes && sql[j] == '\\') {
                ++j;
            } else if (sql[j] == c) {
                if (j + 1 < n && sql[j + 1] == c) {
                    ++j;  // a doubled quote stands for itself
                    continue;
                }
                return j + 1;
            }
        }
        throw std::invalid_argument(c == '\'' ? "unterminated string literal"
                                              : "unterminated quoted identifier");
    }
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
        auto nl = sql.find('\n', i);
        return nl == std::string_view::npos ? n : nl;
    }
    if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
        int depth = 0;
        for (std::size_t j = i; j + 1 < n; ++j) {
            if (sql[j] == '/' && sql[j + 1] == '*') {
                ++depth;
                ++j;
            } else if (sql[j] == '*' && sql[j + 1] == '/') {
                ++j;
                if (--depth == 0) return j + 1;
            }
        }
        throw std::invalid_argument("unterminated comment");
    }
    if (c == '$' && (i == 0 || !is_ident_char(sql[i - 1])) && i + 1 < n &&
        !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
        // $tag$...$tag$ with a possibly empty tag; `$1` is no quote.
        std::size_t j = i + 1;
        while (j < n && is_ident_char(sql[j])) ++j;
        if (j >= n || sql[j] != '$') return i;
        std::string_view tag = sql.substr(i, j + 1 - i);
        auto end = sql.find(tag, j + 1);
        if (end == std::string_view::npos)
            throw std::invalid_argument("unterminated dollar-quoted string");
        return end + tag.size();
    }
    return i;
}

std::string translate_parameters(std::string_view sql, std::vector<std::string>& params) {
    std::string out;
    out.reserve(sql.size());
    std::size_t i = 0, n = sql.size();
    while (i < n) {
        if (std::size_t end = skip_literal(sql, i); end != i) {
            out.append(sql.substr(i, end - i));
            i = end;
            continue;
        }
        char c = sql[i];
        if (c == ':' && i + 1 < n && sql[i + 1] == ':') {
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
        std::size_t end;
        try {
            end = skip_literal(sql, i);
        } catch (const std::invalid_argument&) {
            return false;
        }
        if (end != i) {
            i = end;
        } else if (is_ident_start(sql[i])) {
            std::string word;
            while (i < n && is_ident_char(sql[i]))
                word.push_back(
                    static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
            words.push_back(std::move(word));
        } else {
            ++i;
        }
    }
    if (words.empty()) return false;
    const std::string& first = words.front();
    if (first != "SELECT" && first != "WITH" && first != "VALUES" && first != "TABLE") return false;
    for (const auto& w : words)
        if (w == "INSERT" || w == "UPDATE" || w == "DELETE" || w == "MERGE" || w == "INTO" ||
            w == "CALL" || w == "LOCK" || w == "SHARE" || w == "NEXTVAL" || w == "SETVAL")
            return false;
    return true;
}

QueryFile QueryFile::parse(std::string_view text, const std::string& source) {
    QueryFile file;
    struct Pending {
        Query query;
        std::string body;
        int line = 0;
        int sql_line = 0;
        bool transaction = false;  ///< `-- kiva: transaction` in the description
        bool replica = false;      ///< `-- kiva: replica` in the description
        bool autocommit = false;   ///< `-- kiva: autocommit` in the description
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
            if (trimmed.find("kiva: transaction") != std::string_view::npos)
                pending.back().transaction = true;
            if (trimmed.find("kiva: replica") != std::string_view::npos)
                pending.back().replica = true;
            if (trimmed.find("kiva: autocommit") != std::string_view::npos)
                pending.back().autocommit = true;
            continue;
        }
        in_description = false;
        if (trim(pending.back().body).empty() && !trimmed.empty()) pending.back().sql_line = lineno;
        pending.back().body.append(line).push_back('\n');
    }
    for (auto& p : pending) {
        auto& q = file.queries_[file.index_[p.query.name]];
        // Blank and comment lines at the end (a ruler before the next query) are not its SQL.
        std::string_view body = trim(p.body);
        while (true) {
            auto last_nl = body.rfind('\n');
            std::string_view last =
                trim(last_nl == std::string_view::npos ? body : body.substr(last_nl + 1));
            if (last.substr(0, 2) != "--" || last_nl == std::string_view::npos) break;
            body = trim(body.substr(0, last_nl));
        }
        while (!body.empty() && body.back() == ';') body = trim(body.substr(0, body.size() - 1));
        auto where = source + ":" + std::to_string(p.line) + ": ";
        if (body.empty()) throw QueryFileError(where + "query \"" + q.name + "\" has no SQL");
        try {
            q.sql = translate_parameters(body, q.params);
            q.sql_line = p.sql_line;
            q.plain_read = !p.transaction && is_plain_read(body);
        } catch (const std::invalid_argument& e) {
            throw QueryFileError(where + "query \"" + q.name + "\": " + e.what());
        }
        // A standby refuses writes and its rows may lag: only a plain read can go there.
        if (p.replica && !q.plain_read)
            throw QueryFileError(where + "query \"" + q.name +
                                 "\" says \"kiva: replica\" but is not a plain read (a SELECT "
                                 "that writes and locks nothing, without \"kiva: transaction\")");
        q.replica = p.replica;
        if (p.autocommit && (p.transaction || p.replica))
            throw QueryFileError(where + "query \"" + q.name +
                                 "\" says \"kiva: autocommit\" with \"kiva: transaction\" or "
                                 "\"kiva: replica\"");
        q.autocommit = p.autocommit;
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

void QueryFile::append(const QueryFile& more) {
    for (const auto& q : more.queries_) {
        if (auto it = index_.find(q.name); it != index_.end())
            throw QueryFileError(q.origin + ": query " + q.name + " is already defined at " +
                                 queries_[it->second].origin +
                                 " (the framework's queries come "
                                 "first: choose another name)");
        index_[q.name] = queries_.size();
        queries_.push_back(q);
    }
}

const Query* QueryFile::find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &queries_[it->second];
}

}  // namespace kiva::db
