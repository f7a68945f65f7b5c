#pragma once
/// @file
/// Notifications: a connection of its own, on a thread of its own, that LISTENs to one
/// channel and hands each notification's payload to a callback (PostgreSQL sends them on
/// commit only). It tells when the channel is up and when it is lost: the connection
/// dropped (server restart, failover, pg_terminate_backend) or the server silent for longer
/// than `check` after a ping (a partition without reset). It reconnects with the same
/// conninfo as the request connections (after a failover: the next host of a multi-host
/// conninfo), after a pause of 100 ms doubled up to 5 s while it keeps failing.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "kiva/core/log.hpp"

namespace kiva::db {

struct NotificationEvents {
    /// LISTEN is in effect: from now on every notification of the channel arrives.
    std::function<void()> up;
    /// The channel is lost: notifications may be missed until the next up().
    std::function<void()> down;
    /// The server answered (a ping, a notification): the channel was alive at that moment.
    std::function<void()> heard;
    /// One notification's payload.
    std::function<void(std::string_view)> message;
};

class NotificationListener {
  public:
    /// Starts the thread. `check`: a ping when nothing was heard for that long, and the
    /// channel is declared lost when the ping is not answered within that long again.
    NotificationListener(std::string conninfo, std::string app_name, std::string channel,
                         std::chrono::milliseconds check, NotificationEvents events,
                         const Logger& log);
    /// Stops the thread (down() is called once more if the channel was up) and joins it.
    ~NotificationListener();
    NotificationListener(const NotificationListener&) = delete;
    NotificationListener& operator=(const NotificationListener&) = delete;

  private:
    void run();
    /// One connection's life: returns when it is lost or the listener stops; true when
    /// LISTEN was in effect.
    bool listen_once();
    /// Sleeps for `pause` unless the listener is stopped meanwhile; false when stopped.
    bool pause(std::chrono::milliseconds pause);

    std::string conninfo_;
    std::string app_name_;
    std::string channel_;
    std::chrono::milliseconds check_;
    NotificationEvents events_;
    const Logger& log_;
    int wake_[2] = {-1, -1};  ///< a pipe: the destructor writes to stop the thread's poll
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace kiva::db
