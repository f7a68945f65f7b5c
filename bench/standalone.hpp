// What the bench's standalone FastCGI responders (responder.cpp, hello.cpp) share: listen on a
// unix socket, run the serving threads, and exit 0 on SIGTERM or SIGINT.
#pragma once
#include <fcgiapp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

/// Listens on path (mode), runs serve(listen_fd) on each of threads threads, and waits for a
/// stop signal, which only the calling thread receives. Returns 1 when it cannot listen.
inline int serve_on_socket(const char* path, mode_t mode, int threads, const std::function<void(int)>& serve,
                           const char* who) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before any thread starts: they inherit it
    signal(SIGPIPE, SIG_IGN);
    FCGX_Init();
    unlink(path);
    int listen_fd = FCGX_OpenSocket(path, 1024);
    if (listen_fd < 0 || chmod(path, mode) != 0) {
        std::fprintf(stderr, "%s: cannot listen on %s\n", who, path);
        return 1;
    }
    for (int i = 0; i < threads; ++i) std::thread(serve, listen_fd).detach();
    int sig = 0;
    sigwait(&stop, &sig);
    unlink(path);
    std::_Exit(0);
}
