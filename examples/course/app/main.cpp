// kiva's course demo: the worker is the framework's main with this application's routes
// and typed queries. `kiva --help` lists every option.

#include "api/api.hpp"
#include "kiva/server/main.hpp"

int main(int argc, char** argv) {
    return kiva::main(argc, argv, {api::register_api, api::Queries::compiled(), api::Queries::first});
}
