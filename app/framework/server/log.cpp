#include "framework/server/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "framework/http/decode.hpp"

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

void Logger::log(LogLevel level, std::string_view message) const {
    if (!enabled(level)) return;
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
    line.reserve(64 + message.size());
    line.append(stamp).append(" ").append(name_).append("[").append(std::to_string(getpid()));
    line.append("] ").append(to_string(level)).append(" ");
    // One line per event, readable text: control characters and bytes that are not UTF-8
    // (client paths may hold anything) are escaped, so no client can forge or break lines.
    bool utf8 = is_valid_utf8(message);
    for (unsigned char c : message) {
        if (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            line.append(escaped);
        } else {
            line.push_back(static_cast<char>(c));
        }
    }
    line.push_back('\n');
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
