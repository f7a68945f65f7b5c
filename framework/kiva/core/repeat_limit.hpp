#pragma once
/// @file
/// RepeatLimit: at most one log line per window for a kind of error that comes in floods (a
/// database outage fails every request the same way, thousands a second under load). The
/// line that gets through says how many it stands for; each request keeps its access line.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>

namespace kiva {

class RepeatLimit {
  public:
    explicit RepeatLimit(std::chrono::milliseconds window) : window_(window) {}

    /// The number of lines held back since the last one admitted, when this one may be
    /// written; nullopt when it is held back. Thread-safe (the request threads share it).
    std::optional<std::size_t> admit() {
        auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        if (admitted_ && now - last_ < window_) {
            ++held_;
            return std::nullopt;
        }
        admitted_ = true;
        last_ = now;
        return std::exchange(held_, 0);
    }

  private:
    std::chrono::milliseconds window_;
    std::mutex mutex_;
    bool admitted_ = false;
    std::chrono::steady_clock::time_point last_{};
    std::size_t held_ = 0;
};

}  // namespace kiva
