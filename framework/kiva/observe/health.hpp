#pragma once
/// @file
/// Health: can the worker run a query now? Checked on a connection of its own, opened and
/// queried without blocking, under one deadline: a hung database (a stopped server, a lost
/// network) costs the probe at most that long, and never a request thread's connection.

#include <chrono>
#include <string>

namespace kiva::observe {

/// True when `SELECT 1` answers within timeout, on a new connection made with conninfo (the
/// worker's own libpq connection string).
bool database_answers(const std::string& conninfo, const std::string& app_name,
                      std::chrono::milliseconds timeout);

}  // namespace kiva::observe
