// @NAME@: the worker is kiva's main with this application's routes and typed queries.
// `build/@NAME@ --help` lists every option.

#include "api.hpp"
#include "kiva/server/main.hpp"

int main(int argc, char** argv) {
    return kiva::main(argc, argv, {@NAME@::declare, @NAME@::Queries::compiled(), @NAME@::Queries::first});
}
