#pragma once
/// @file
/// Logger: one line per event on stderr (the front end's error log under mod_fcgid).
/// Lines are written whole with write(2), so threads and processes do not interleave.
/// While a server runs, a background thread writes them in batches: a request thread only
/// appends its line to a buffer, and no write(2) sits on the request path.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace kiva {

enum class LogLevel { debug, info, warning, error, off };
/// text: one readable line per event; json: one JSON object per line (journald, ELK).
enum class LogFormat { text, json };

/// One request, for the access line.
struct AccessEntry {
    std::string_view request_id;
    std::string_view login;  ///< "" when anonymous
    std::string_view method;
    std::string_view route;  ///< the declared pattern, or "" when no route matched
    std::string_view path;
    int status = 0;
    double duration_ms = 0;
};

/// "debug", "info", "warning", "error" or "off"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view to_string(LogLevel level);
/// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

class Logger {
  public:
    explicit Logger(LogLevel level = LogLevel::info, std::string name = "kiva",
                    LogFormat format = LogFormat::text)
        : level_(level), name_(std::move(name)), format_(format) {}
    ~Logger() { stop_background(); }
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::off; }
    /// request_id, when given, ties the line to a request (the X-Request-ID it was answered with).
    void log(LogLevel level, std::string_view message, std::string_view request_id = {}) const;
    /// The access line of a request (info), formatted now: the entry may point into memory
    /// that is freed before the line is written with emit().
    std::string access_line(const AccessEntry& entry) const;
    /// Writes a line made by access_line().
    void emit(std::string line) const;
    void debug(std::string_view m) const { log(LogLevel::debug, m); }
    void info(std::string_view m) const { log(LogLevel::info, m); }
    void warning(std::string_view m) const { log(LogLevel::warning, m); }
    void error(std::string_view m) const { log(LogLevel::error, m); }

    /// From now on lines are written by a background thread, every 20 ms at most (sooner when
    /// much is waiting). Call it in the process that serves (after any fork).
    void start_background() const;
    /// Writes what is waiting and returns to direct writes.
    void stop_background() const;

  private:
    void write_out(std::string_view text) const;
    /// The start of a line: time, name, pid, level (text), or the same fields opening a JSON
    /// object.
    std::string head(LogLevel level) const;

    LogLevel level_;
    std::string name_;
    LogFormat format_;

    // The background writer (mutable: logging is logically const).
    mutable std::mutex mutex_;
    mutable std::condition_variable wake_;
    mutable std::string pending_;
    mutable bool background_ = false;
    mutable bool stopping_ = false;
    mutable std::thread writer_;
};

}  // namespace kiva
