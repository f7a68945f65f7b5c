#pragma once
/// @file
/// Server: the libfcgi adapter. Listens where the configuration says (or on the socket
/// inherited from mod_fcgid / spawn-fcgi on fd 0, or from systemd), runs one accept loop per
/// thread, each thread with its own Postgres connection, turns each FastCGI request into a
/// plain Request for the App, writes the Response back, and logs one line.
/// SIGTERM/SIGINT: stop accepting, finish the requests in flight, return 0.
/// With processes > 1, a supervising process forks that many workers and respawns any that dies.
/// One class, one file per job: server.cpp (the accept loop of each thread), fcgi_io.cpp (the
/// FastCGI request and response), listener.cpp (the socket), supervisor.cpp (signals, stopping,
/// prefork).

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kiva/app/app.hpp"
#include "kiva/db/query_file.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"

namespace kiva {

namespace observe {
class Metrics;
}

class Server {
  public:
    Server(const Config& config, const App& app, const db::QueryFile& queries, const Logger& log);

    /// Where requests are counted (optional): each serving process claims its slot.
    void observe(observe::Metrics* metrics) { metrics_ = metrics; }

    /// Serves until a stop signal; returns the process exit status.
    int run();

  private:
    /// A serving thread, as the stopping process sees it (idle: blocked in accept).
    enum class State { starting, idle, busy, done };
    struct Worker {
        int index = 0;
        std::thread thread;
        std::atomic<State> state{State::starting};
    };

    // server.cpp: one thread's accept loop.
    void serve_forever(Worker& worker);
    // listener.cpp
    int open_listener() const;
    // supervisor.cpp
    /// Blocks the stop signals in every thread (the main thread takes them with sigwait).
    void take_signals();
    /// The threads of one process, until a stop signal.
    int serve_threads();
    /// Several processes on the same socket (processes > 1): respawns any that dies.
    int supervise();
    int wait_for_stop_signal() const;

    const Config& config_;
    const App& app_;
    const db::QueryFile& queries_;
    const Logger& log_;
    observe::Metrics* metrics_ = nullptr;
    int listen_fd_ = -1;
    bool close_at_once_ = false;  ///< a unix socket: no lingering close (see serve_forever)
    std::atomic<bool> stopping_{false};
};

}  // namespace kiva
