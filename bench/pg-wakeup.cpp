// Where a read's PostgreSQL time goes (docs/performance.md, "Against the peers"): the CPU a
// backend spends per one-row prepared SELECT, read from its /proc entry, when the next query
// is already waiting (a pool that hands the connection to the next request at once, as pgx's),
// when the client spins 50 us between queries (the backend sleeps, the core stays busy), and
// when the client sleeps 50 us (the backend sleeps on a core that goes idle: the wake-up, on a
// VM an exit, is charged to the backend). Needs a table Stuff(sid, stuff) with rows 1..ROWS.
// Usage: kiva-bench-pg-wakeup CONNINFO [QUERIES (30000)] [ROWS (10000)]  (on the database host)
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

double backend_seconds(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), {});
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long user = 0, system = 0;
    for (int i = 0; i < 13 && rest >> field; ++i) {
        if (i == 11) user = std::stoul(field);
        if (i == 12) system = std::stoul(field);
    }
    return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void spin(std::chrono::microseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CONNINFO [QUERIES] [ROWS]\n", argv[0]);
        return 2;
    }
    long queries = argc > 2 ? std::atol(argv[2]) : 30000, rows = argc > 3 ? std::atol(argv[3]) : 10000;
    PGconn* c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        std::fprintf(stderr, "pg-wakeup: %s", PQerrorMessage(c));
        return 1;
    }
    PQclear(PQprepare(c, "one", "SELECT sid, stuff FROM Stuff WHERE sid = $1", 0, nullptr));
    int pid = PQbackendPID(c);
    const char* modes[] = {"next query waiting", "client spins 50 us", "client sleeps 50 us"};
    auto run = [&](int mode, long n) {
        double before = backend_seconds(pid);
        for (long i = 0; i < n; ++i) {
            std::string id = std::to_string(1 + (i * 7919) % rows);
            const char* values[] = {id.c_str()};
            if (mode == 1) spin(std::chrono::microseconds(50));
            if (mode == 2) std::this_thread::sleep_for(std::chrono::microseconds(50));
            PGresult* r = PQexecPrepared(c, "one", 1, values, nullptr, nullptr, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                std::fprintf(stderr, "pg-wakeup: %s", PQresultErrorMessage(r));
                std::exit(1);
            }
            PQclear(r);
        }
        return 1e6 * (backend_seconds(pid) - before) / static_cast<double>(n);
    };
    run(0, rows);  // warm: the plan, the catalog caches, the rows in shared buffers
    // Three interleaved rounds (a shared machine drifts); the smallest of each is printed.
    double best[3] = {1e9, 1e9, 1e9};
    for (int round = 0; round < 3; ++round)
        for (int mode = 0; mode < 3; ++mode) best[mode] = std::min(best[mode], run(mode, queries));
    for (int mode = 0; mode < 3; ++mode)
        std::printf("%-22s backend %5.1f us/query (best of 3 rounds of %ld)\n", modes[mode], best[mode], queries);
    PQfinish(c);
}
