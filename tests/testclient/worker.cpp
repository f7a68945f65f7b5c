// The test client's application as a worker, for the URL mode (tests/testclient/run.sh).
#include "generated/queries.hpp"
#include "items.hpp"
#include "kiva/server/main.hpp"

int main(int argc, char** argv) {
    return kiva::main(argc, argv,
                      {items::declare, items::Queries::compiled(), items::Queries::first});
}
