#pragma once
/// @file
/// The listener: the socket the worker serves (Server::open_listener: listen = a unix path or
/// host:port, else systemd's fd 3, else the inherited fd 0), and the wake-up request a stopping
/// worker sends to it so that each idle thread returns from its accept.

namespace kiva::listener {

/// The FastCGI parameter that marks a wake-up request (sent by the worker to itself).
constexpr const char* wake_param = "KIVA_WAKE";

/// Connects to the listening socket and sends a FastCGI request that only wakes whichever
/// thread accepts it. Stopping this way interrupts nothing: a signal could cut a connection
/// libfcgi has just accepted. False when the socket has no address to connect to.
bool send_wake(int listen_fd);

/// A unix socket (no lingering close needed: see Server::serve_forever).
bool is_unix_socket(int fd);

}  // namespace kiva::listener
