#pragma once
/// @file
/// The worker's main, for an application's main.cpp to call:
///
///     int main(int argc, char** argv) {
///         return kiva::main(argc, argv, {api::register_api, api::Queries::compiled(), api::Queries::first});
///     }
///
/// Options: --config FILE, --check, --routes, --openapi, --config-table, --version, --help
/// (which lists every key).

#include <cstddef>
#include <functional>
#include <span>

#include "kiva/app/app.hpp"
#include "kiva/db/typed.hpp"

namespace kiva {

/// What an application gives the framework: its routes and its typed queries.
struct Application {
    /// Declares the routes and callbacks on the App.
    std::function<void(App&)> declare;
    /// Its generated queries (`Queries::compiled()`) and where they start (`Queries::first`).
    std::span<const db::CompiledQuery> queries;
    std::size_t first_query = 0;
};

/// Runs the worker; returns the process's exit status.
int main(int argc, char** argv, const Application& application);

}  // namespace kiva
