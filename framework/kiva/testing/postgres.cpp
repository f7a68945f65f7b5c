#include "kiva/testing/postgres.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "kiva/testing/process.hpp"

namespace kiva::testing {

namespace {

using namespace std::chrono_literals;

/// The newest /usr/lib/postgresql/N/bin holding initdb.
std::string server_binaries() {
    std::string best;
    int best_version = -1;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        auto bin = entry.path() / "bin";
        int version = std::atoi(entry.path().filename().c_str());
        if (version > best_version && std::filesystem::exists(bin / "initdb")) {
            best = bin.string();
            best_version = version;
        }
    }
    if (best.empty())
        throw std::runtime_error(
            "PostgreSQL server binaries not found under /usr/lib/postgresql "
            "(or set KIVA_TEST_DATABASE to a server's conninfo)");
    return best;
}

/// A conninfo value, quoted for a key=value string.
std::string conninfo_value(std::string_view value) {
    std::string q = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') q += '\\';
        q += c;
    }
    return q + "'";
}

}  // namespace

Postgres::Postgres(std::optional<std::string> conninfo) {
    if (conninfo) {
        given_ = std::move(*conninfo);
        return;
    }
    start();
}

Postgres::~Postgres() {
    stop();
}

void Postgres::start() {
    std::string bin = server_binaries();
    std::string pattern = "/var/tmp/kiva-testing.XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a directory in /var/tmp");
    dir_ = pattern;
    try {
        if (geteuid() == 0) {
            // The cluster's files belong to the postgres account, which must reach them.
            run({{"chown", "postgres:", dir_}}, 10s);
        }
        run({{bin + "/initdb", "-D", dir_ + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C.UTF-8"},
             dir_ + "/initdb.log",
             true},
            120s);
        pid_ = spawn({{bin + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p", "5432", "-c",
                       "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                       "synchronous_commit=off"},
                      dir_ + "/postgres.log",
                      true});
        auto deadline = std::chrono::steady_clock::now() + 60s;
        std::string info = conninfo();
        while (PQping(info.c_str()) != PQPING_OK) {
            if (!running(pid_) || std::chrono::steady_clock::now() > deadline) {
                pid_ = -1;
                throw std::runtime_error("PostgreSQL did not start:\n" +
                                         tail(dir_ + "/postgres.log"));
            }
            std::this_thread::sleep_for(20ms);
        }
    } catch (...) {
        stop();
        throw;
    }
}

void Postgres::stop() {
    if (pid_ > 0) {
        kill(pid_, SIGINT);   // fast shutdown: sessions are ended, nothing to keep
        wait_for(pid_, 30s);  // else killed: its children end when they see it gone
        pid_ = -1;
    }
    if (!dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        dir_.clear();
    }
}

std::string Postgres::conninfo(std::string_view dbname) const {
    if (given_.empty())
        return "host=" + conninfo_value(dir_) + " port=5432 user=postgres dbname=" +
               conninfo_value(dbname.empty() ? "postgres" : dbname);
    if (dbname.empty()) return given_;
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
        PQconninfoParse(given_.c_str(), &error), PQconninfoFree);
    if (!options) {
        std::string why = error ? error : "out of memory";
        PQfreemem(error);
        throw std::runtime_error("KIVA_TEST_DATABASE: " + why);
    }
    std::string out;
    for (auto* o = options.get(); o->keyword; ++o) {
        if (std::string_view(o->keyword) == "dbname" || !o->val) continue;
        out += std::string(o->keyword) + "=" + conninfo_value(o->val) + " ";
    }
    return out + "dbname=" + conninfo_value(dbname);
}

}  // namespace kiva::testing
