// A front end's own ceiling for `make bench`: the trivial libfcgi responder (no database, no
// parsing), one fixed JSON answer. Run by mod_fcgid on its inherited socket (fd 0, one request
// at a time: one thread), or standalone on a unix socket for mod_proxy_fcgi and nginx.
// Usage: kiva-bench-hello                      (fd 0, as mod_fcgid and spawn-fcgi start it)
//        kiva-bench-hello SOCKET_PATH [THREADS] (SIGTERM/SIGINT: exit 0)
#include <fcgiapp.h>

#include <cstdio>
#include <cstdlib>

#include "standalone.hpp"

static void serve(int listen_fd) {
    static const char body[] = "{\"sid\":1,\"stuff\":\"hello!\"}";
    char answer[160];
    int n = std::snprintf(answer, sizeof answer,
                          "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                          sizeof body - 1, body);
    FCGX_Request r;
    FCGX_InitRequest(&r, listen_fd, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        FCGX_PutStr(answer, n, r.out);
        FCGX_Finish_r(&r);
    }
}

int main(int argc, char** argv) {
    if (argc < 2) {  // mod_fcgid: it stops us with SIGTERM, whose default action is fine
        FCGX_Init();
        serve(0);
        return 0;
    }
    int threads = argc > 2 ? std::atoi(argv[2]) : 4;
    return serve_on_socket(argv[1], 0666, threads, serve, "hello");
}
