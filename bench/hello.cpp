// A front end's own ceiling for `make bench`: the trivial libfcgi responder (no database, no
// parsing), one fixed JSON answer. Run by mod_fcgid on its inherited socket (fd 0, one request
// at a time: one thread), or standalone on a unix socket for mod_proxy_fcgi and nginx.
// Usage: kiva-bench-hello                      (fd 0, as mod_fcgid and spawn-fcgi start it)
//        kiva-bench-hello SOCKET_PATH [THREADS] (SIGTERM/SIGINT: exit 0)
#include <fcgiapp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

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
    FCGX_Init();
    if (argc < 2) {  // mod_fcgid: it stops us with SIGTERM, whose default action is fine
        serve(0);
        return 0;
    }
    int threads = argc > 2 ? std::atoi(argv[2]) : 4;
    sigset_t stop;  // the main thread waits for these; the serving threads never see them
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    signal(SIGPIPE, SIG_IGN);
    unlink(argv[1]);
    int listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0 || chmod(argv[1], 0666) != 0) {
        std::perror("hello: listen");
        return 1;
    }
    for (int i = 0; i < threads; ++i) std::thread(serve, listen_fd).detach();
    int sig = 0;
    sigwait(&stop, &sig);
    unlink(argv[1]);
    std::_Exit(0);
}
