// What an ETag costs (issue 21): kiva computes the tag of every 200 answer to a GET
// (kiva::etag::of, the SHA-256 of the body), and cannot be told not to. This times that very
// function (framework/kiva/http/etag.cpp, linked in) on a body of scenario 1's size, so that
// bench/rest.py can set it against the worker's CPU per request.
// Usage: kiva-bench-etag-cost BODY_BYTES [ITERATIONS]   (prints "ns_per_tag X")
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiva/http/etag.hpp"

int main(int argc, char** argv) {
    size_t bytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 40;
    long n = argc > 2 ? std::atol(argv[2]) : 2000000;
    std::string body(bytes, 'x');
    size_t sink = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        body[i % bytes] = static_cast<char>('a' + i % 26);  // a different body each time
        sink += kiva::etag::of(body)[1];
    }
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("ns_per_tag %.1f %zu\n", ns / n, sink % 2);
    return 0;
}
