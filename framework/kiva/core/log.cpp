#include "kiva/core/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "kiva/core/decode.hpp"

namespace kiva {

std::optional<LogLevel> parse_log_level(std::string_view name) {
    if (name == "debug") return LogLevel::debug;
    if (name == "info") return LogLevel::info;
    if (name == "warning" || name == "warn") return LogLevel::warning;
    if (name == "error") return LogLevel::error;
    if (name == "off") return LogLevel::off;
    return std::nullopt;
}

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "DEBUG";
        case LogLevel::info:
            return "INFO";
        case LogLevel::warning:
            return "WARNING";
        case LogLevel::error:
            return "ERROR";
        case LogLevel::off:
            return "OFF";
    }
    return "?";
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::text;
    if (name == "json") return LogFormat::json;
    return std::nullopt;
}

namespace {

/// Client text (paths may hold anything) made safe for one line: control characters and
/// bytes that are not UTF-8 are escaped, so that no client can forge or break lines; in JSON,
/// quotes and backslashes too.
void append_safe(std::string& line, std::string_view text, bool json) {
    bool utf8 = is_valid_utf8(text);
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, json ? "\\\\x%02x" : "\\x%02x", c);
            line.append(escaped);
        } else if (json && (c == '"' || c == '\\')) {
            line.push_back('\\');
            line.push_back(static_cast<char>(c));
        } else {
            line.push_back(static_cast<char>(c));
        }
    }
}

void json_field(std::string& line, std::string_view key, std::string_view value) {
    line.append(",\"").append(key).append("\":\"");
    append_safe(line, value, true);
    line.push_back('"');
}

}  // namespace

std::string Logger::head(LogLevel level) const {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    std::string line;
    line.reserve(160);
    if (format_ == LogFormat::json) {
        line.append("{\"time\":\"").append(stamp).append("\"");
        json_field(line, "level", to_string(level));
        json_field(line, "app", name_);
        line.append(",\"pid\":").append(std::to_string(getpid()));
        return line;
    }
    line.append(stamp).append(" ").append(name_).append("[").append(std::to_string(getpid()));
    line.append("] ").append(to_string(level)).append(" ");
    return line;
}

void Logger::log(LogLevel level, std::string_view message, std::string_view request_id) const {
    if (!enabled(level)) return;
    std::string line = head(level);
    if (format_ == LogFormat::json) {
        if (!request_id.empty()) json_field(line, "request_id", request_id);
        json_field(line, "message", message);
        line.append("}\n");
    } else {
        if (!request_id.empty()) line.append("rid=").append(request_id).append(" ");
        append_safe(line, message, false);
        line.push_back('\n');
    }
    emit(std::move(line));
}

std::string Logger::access_line(const AccessEntry& e) const {
    std::string line = head(LogLevel::info);
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f", e.duration_ms);
    if (format_ == LogFormat::json) {
        json_field(line, "request_id", e.request_id);
        if (e.login.empty())
            line.append(",\"login\":null");
        else
            json_field(line, "login", e.login);
        json_field(line, "method", e.method);
        if (e.route.empty())
            line.append(",\"route\":null");
        else
            json_field(line, "route", e.route);
        json_field(line, "path", e.path);
        line.append(",\"status\":").append(std::to_string(e.status));
        line.append(",\"duration_ms\":").append(duration).append("}\n");
        return line;
    }
    // The query string is never logged: it may carry credentials (USER/PASS).
    line.append("rid=").append(e.request_id).append(" ");
    std::string text(e.login.empty() ? "-" : e.login);
    text.append(" ").append(e.method).append(" ").append(e.path).append(" ");
    text.append(std::to_string(e.status)).append(" ").append(duration).append("ms");
    append_safe(line, text, false);
    line.push_back('\n');
    return line;
}

void Logger::emit(std::string line) const {
    {
        std::lock_guard lock(mutex_);
        if (background_) {
            pending_.append(line);
            if (pending_.size() > (64 << 10)) wake_.notify_one();
            return;
        }
    }
    write_out(line);
}

void Logger::write_out(std::string_view text) const {
    // Whole lines per write keep concurrent writers apart; a failed log write is not worth dying
    // for.
    while (!text.empty()) {
        ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

void Logger::start_background() const {
    std::lock_guard lock(mutex_);
    if (background_) return;
    background_ = true;
    stopping_ = false;
    writer_ = std::thread([this] {
        std::string batch;
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_; });
            batch.swap(pending_);
            bool stop = stopping_;
            lock.unlock();
            write_out(batch);
            batch.clear();
            lock.lock();
            if (stop) break;
        }
    });
}

void Logger::stop_background() const {
    std::thread writer;
    {
        std::lock_guard lock(mutex_);
        if (!background_) return;
        stopping_ = true;
        writer.swap(writer_);
    }
    wake_.notify_one();
    writer.join();
    std::lock_guard lock(mutex_);
    background_ = false;
    write_out(pending_);  // anything logged while the writer was finishing
    pending_.clear();
}

}  // namespace kiva
