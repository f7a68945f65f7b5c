#pragma once
/// @file
/// The named queries file, AnoDB/aiosql style:
///
///     -- name: get_stuff_sid^
///     -- optional description lines
///     SELECT * FROM Stuff WHERE sid = :sid;
///
/// Suffixes: none -> list of rows, `^` -> one row or none, `$` -> one value or none,
/// `!` -> row count. `:name` parameters become `$1..$n` (the same name, the same number).

#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiva::db {

enum class QueryKind { rows, row, value, count };

/// The suffix of a kind: "", "^", "$", "!".
std::string_view suffix(QueryKind kind);

struct Query {
    std::string name;
    QueryKind kind = QueryKind::rows;
    std::string sql;                  ///< with $1..$n
    std::vector<std::string> params;  ///< params[i] is $(i+1)
    std::string origin;               ///< "file:line" of the name line
    int sql_line = 0;                 ///< the file's line where the SQL starts
    /// A plain read (see is_plain_read): run outside the transaction until a write comes.
    bool plain_read = false;
    /// `-- kiva: autocommit` in its description: a write that runs on its own, committed by
    /// the server as it ends (one round trip, no BEGIN/COMMIT), when no transaction is open;
    /// never repeated on a new connection (it may have committed as the connection broke).
    bool autocommit = false;
    /// `-- kiva: replica` in its description: a plain read that may run on a standby (the
    /// `db_replica` connection) when it comes before the request's first write.
    bool replica = false;
};

/// A syntax error in a queries file, with file:line in what().
struct QueryFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class QueryFile {
  public:
    QueryFile() = default;
    /// Parses text; `source` names it in errors. Throws QueryFileError.
    static QueryFile parse(std::string_view text, const std::string& source);
    /// Reads and parses a file. Throws QueryFileError (also when unreadable).
    static QueryFile load(const std::string& path);

    /// Adds more's queries after these; throws QueryFileError on a name used twice.
    void append(const QueryFile& more);

    /// The query, or null.
    const Query* find(std::string_view name) const;
    const std::vector<Query>& queries() const { return queries_; }

  private:
    std::vector<Query> queries_;
    std::unordered_map<std::string, std::size_t> index_;
};

/// True when sql is a plain read: it starts with SELECT, WITH, VALUES or TABLE and has
/// none of the words INSERT, UPDATE, DELETE, MERGE, INTO, CALL, LOCK, SHARE (FOR UPDATE /
/// FOR SHARE), NEXTVAL, SETVAL (outside literals and comments). A query whose description
/// says `-- kiva: transaction` (a SELECT calling a function that writes) is never one; one
/// that says `-- kiva: replica` must be one (QueryFileError otherwise).
bool is_plain_read(std::string_view sql);

/// Rewrites `:name` parameters of one SQL text to `$n`, skipping string literals,
/// quoted identifiers, dollar quotes, comments and `::` casts. Throws std::invalid_argument
/// (with a message) on an unterminated literal or comment.
std::string translate_parameters(std::string_view sql, std::vector<std::string>& params);

}  // namespace kiva::db
