// The baseline of the jobs bench (issue 22): a bare hand-written FOR UPDATE SKIP LOCKED loop on
// kiva's own tables, with nothing of kiva's framework. Each thread, on its own connection, claims
// the next due import_stuff job, inserts its names into Stuff, marks it done and commits: one
// transaction per job (kiva's worker commits its claim first, under a lease, then the job).
// It polls every millisecond when the queue is empty (no LISTEN), and stops once it has run
// COUNT jobs in all or found none for IDLE_MS.
// Usage: kiva-bench-jobs-loop CONNINFO THREADS COUNT [IDLE_MS]   (prints "done N")
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

static std::atomic<long> done{0};
static std::atomic<bool> failed{false};

static bool ok(PGresult* r, const char* what) {
    auto s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return true;
    std::fprintf(stderr, "jobs-loop: %s: %s", what, PQresultErrorMessage(r));
    failed = true;
    return false;
}

static void worker(const char* conninfo, long count, int idle_ms) {
    PGconn* c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        std::fprintf(stderr, "jobs-loop: %s", PQerrorMessage(c));
        failed = true;
        return;
    }
    PGresult* p = PQprepare(c, "claim",
                            "SELECT id FROM kiva_jobs WHERE name = 'import_stuff' AND state = 'queued' "
                            "AND run_at <= now() ORDER BY priority DESC, run_at, id "
                            "LIMIT 1 FOR UPDATE SKIP LOCKED", 0, nullptr);
    ok(p, "prepare claim");
    PQclear(p);
    p = PQprepare(c, "work",
                  "INSERT INTO Stuff(stuff) SELECT jsonb_array_elements_text(payload) FROM kiva_jobs "
                  "WHERE id = $1::bigint", 0, nullptr);
    ok(p, "prepare work");
    PQclear(p);
    p = PQprepare(c, "finish",
                  "UPDATE kiva_jobs SET state = 'done', attempts = attempts + 1, started_at = now(), "
                  "finished_at = clock_timestamp(), worker = 'bench-loop', "
                  "result = to_jsonb(jsonb_array_length(payload)) WHERE id = $1::bigint", 0, nullptr);
    ok(p, "prepare finish");
    PQclear(p);
    auto idle_since = std::chrono::steady_clock::now();
    while (!failed && done.load() < count) {
        PGresult* r = PQexec(c, "BEGIN");
        if (!ok(r, "BEGIN")) break;
        PQclear(r);
        r = PQexecPrepared(c, "claim", 0, nullptr, nullptr, nullptr, 0);
        if (!ok(r, "claim")) break;
        if (PQntuples(r) == 0) {
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            if (std::chrono::steady_clock::now() - idle_since > std::chrono::milliseconds(idle_ms)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        std::string id = PQgetvalue(r, 0, 0);
        PQclear(r);
        const char* params[1] = {id.c_str()};
        r = PQexecPrepared(c, "work", 1, params, nullptr, nullptr, 0);
        if (!ok(r, "work")) break;
        PQclear(r);
        r = PQexecPrepared(c, "finish", 1, params, nullptr, nullptr, 0);
        if (!ok(r, "finish")) break;
        PQclear(r);
        r = PQexec(c, "COMMIT");
        if (!ok(r, "COMMIT")) break;
        PQclear(r);
        ++done;
        idle_since = std::chrono::steady_clock::now();
    }
    PQfinish(c);
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s CONNINFO THREADS COUNT [IDLE_MS]\n", argv[0]);
        return 2;
    }
    int threads = std::atoi(argv[2]);
    long count = std::atol(argv[3]);
    int idle_ms = argc > 4 ? std::atoi(argv[4]) : 5000;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(worker, argv[1], count, idle_ms);
    for (auto& t : pool) t.join();
    std::printf("done %ld\n", done.load());
    return failed ? 1 : 0;
}
