#pragma once
/// @file
/// Logger: one line per event on stderr (the front end's error log under mod_fcgid).
/// Lines are written with a single write(2) so threads and processes do not interleave.

#include <optional>
#include <string>
#include <string_view>

namespace kiva {

enum class LogLevel { debug, info, warning, error, off };

/// "debug", "info", "warning", "error" or "off"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view to_string(LogLevel level);

class Logger {
public:
    explicit Logger(LogLevel level = LogLevel::info, std::string name = "kiva")
        : level_(level), name_(std::move(name)) {}

    bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::off; }
    void log(LogLevel level, std::string_view message) const;
    void debug(std::string_view m) const { log(LogLevel::debug, m); }
    void info(std::string_view m) const { log(LogLevel::info, m); }
    void warning(std::string_view m) const { log(LogLevel::warning, m); }
    void error(std::string_view m) const { log(LogLevel::error, m); }

private:
    LogLevel level_;
    std::string name_;
};

}  // namespace kiva
