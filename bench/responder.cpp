// The stack's practical ceiling for `make bench`: a hand-written libfcgi + libpq responder for
// GET /stuff/<id>, with nothing of kiva's framework. Same SQL, same JSON, same thread count:
// each thread has its own connection, one prepared statement and its own FCGX_Accept_r loop.
// Usage: kiva-bench-responder SOCKET_PATH CONNINFO [THREADS]   (SIGTERM/SIGINT: exit 0)
#include <fcgiapp.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "standalone.hpp"

static const char* conninfo;

static void reply(FCGX_Request& r, const char* status, const std::string& body) {
    char head[160];
    int n =
        std::snprintf(head, sizeof head,
                      "Status: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      status, body.size());
    FCGX_PutStr(head, n, r.out);
    FCGX_PutStr(body.data(), static_cast<int>(body.size()), r.out);
}

static void json_string(std::string& out, const char* s) {
    out += '"';
    for (; *s; ++s) {
        unsigned char c = static_cast<unsigned char>(*s);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char u[8];
            std::snprintf(u, sizeof u, "\\u%04x", c);
            out += u;
        } else
            out += static_cast<char>(c);
    }
    out += '"';
}

static void serve(int listen_fd) {
    PGconn* db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        std::fprintf(stderr, "responder: %s", PQerrorMessage(db));
        std::exit(1);
    }
    PQclear(PQprepare(db, "get", "SELECT sid, stuff FROM Stuff WHERE sid = $1", 1, nullptr));
    FCGX_Request r;
    FCGX_InitRequest(&r, listen_fd, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        const char* path = FCGX_GetParam("PATH_INFO", r.envp);
        const char* method = FCGX_GetParam("REQUEST_METHOD", r.envp);
        long long sid = 0;
        int end = 0;
        if (!path || !method || std::strcmp(method, "GET") != 0 ||
            std::sscanf(path, "/stuff/%lld%n", &sid, &end) != 1 || path[end] != '\0') {
            reply(r, "404 Not Found", "{\"error\":\"not found\"}");
        } else {
            std::string id = std::to_string(sid);
            const char* values[1] = {id.c_str()};
            PGresult* res = PQexecPrepared(db, "get", 1, values, nullptr, nullptr, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                reply(r, "503 Service Unavailable", "{\"error\":\"database error\"}");
            } else if (PQntuples(res) == 0) {
                reply(r, "404 Not Found", "{\"error\":\"no such stuff: " + id + "\"}");
            } else {
                std::string body = "{\"sid\":";
                body += PQgetvalue(res, 0, 0);
                body += ",\"stuff\":";
                json_string(body, PQgetvalue(res, 0, 1));
                body += '}';
                reply(r, "200 OK", body);
            }
            PQclear(res);
        }
        FCGX_Finish_r(&r);
    }
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s SOCKET CONNINFO [THREADS]\n", argv[0]);
        return 2;
    }
    conninfo = argv[2];
    int threads = argc > 3 ? std::atoi(argv[3]) : 4;
    return serve_on_socket(argv[1], 0660, threads, serve, "responder");
}
