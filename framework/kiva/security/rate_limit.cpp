#include "kiva/security/rate_limit.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "kiva/core/log.hpp"
#include "kiva/security/shared_cache.hpp"

namespace kiva {

std::string rate_limit_policy_field(std::string_view name, const RateSpec& spec) {
    std::string out = "\"";
    out += name;
    out += "\";q=";
    out += std::to_string(spec.limit);
    out += ";w=";
    out += std::to_string(spec.seconds);
    return out;
}

std::string rate_limit_field(std::string_view name, std::uint32_t remaining, std::uint32_t reset) {
    std::string out = "\"";
    out += name;
    out += "\";r=";
    out += std::to_string(remaining);
    out += ";t=";
    out += std::to_string(reset);
    return out;
}

namespace {

constexpr std::uint64_t count_bits = 24;
constexpr std::uint64_t count_mask = (1ULL << count_bits) - 1;

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

/// A 64-bit mix (splitmix64's finalizer): tag and index come from different bits.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace

HostRateCounters::HostRateCounters(const std::string& path, std::size_t words) {
    count_ = 1;
    while (count_ < words) count_ <<= 1;
    bytes_ = count_ * sizeof(std::uint64_t);
    void* p = MAP_FAILED;
    if (path.empty()) {
        p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    } else {
        int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
        if (fd >= 0) {
            // Shared by every process of the instance, whatever its user's umask (a unit's
            // UMask=0077; mod_fcgid's processes beside the systemd worker): the app's group,
            // as the metrics file beside it (kiva/observe/slots.cpp).
            (void)fchmod(fd, 0660);
            struct stat st {};
            // A file of another size is from another release: resized, its counts start over.
            if (fstat(fd, &st) == 0 &&
                (static_cast<std::size_t>(st.st_size) == bytes_ ||
                 ftruncate(fd, static_cast<off_t>(bytes_)) == 0))
                p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
        }
    }
    if (p == MAP_FAILED)
        throw std::runtime_error("cannot map the rate limit counters" +
                                 (path.empty() ? std::string() : " " + path) + ": " +
                                 std::strerror(errno));
    words_ = static_cast<std::uint64_t*>(p);
}

HostRateCounters::~HostRateCounters() {
    if (words_) munmap(words_, bytes_);
}

std::uint32_t HostRateCounters::hit(std::uint64_t key_hash) {
    std::uint64_t h = mix(key_hash);
    std::uint64_t tag = h >> count_bits << count_bits;  // the top 40 bits
    std::atomic_ref<std::uint64_t> word(words_[h & (count_ - 1)]);
    std::uint64_t old = word.load(std::memory_order_relaxed), next;
    do {
        if ((old & ~count_mask) == tag) {
            std::uint64_t n = old & count_mask;
            next = n == count_mask ? old : old + 1;  // saturates
        } else {
            next = tag | 1;  // another key or an older window: this one starts
        }
    } while (!word.compare_exchange_weak(old, next, std::memory_order_relaxed));
    return static_cast<std::uint32_t>(next & count_mask);
}

namespace {

std::string counters_path(const Config& config) {
    if (config.metrics_file.empty()) return "";
    std::string path = config.metrics_file;
    path += ".rate";
    return path;
}

}  // namespace

RateLimiter::RateLimiter(const Config& config, const Logger& log)
    : default_(parse_rate_spec(config.rate_limit)),
      trusted_proxies_(config.trusted_proxies),
      log_(log),
      host_(counters_path(config)) {}

RateLimiter::Decision RateLimiter::hit(const RateSpec& spec, std::string_view route,
                                       std::string_view client,
                                       const cache::SharedCache* shared) const {
    const auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    const std::uint64_t window = now / spec.seconds;
    std::uint64_t h = fnv1a(14695981039346656037ULL, route);
    h = fnv1a(h, std::string_view("\n", 1));
    h = fnv1a(h, client);
    // Appended piece by piece: GCC 12 at -O3 misreads `"\n" + std::string` (-Wrestrict).
    std::string suffix = "\n";
    suffix += std::to_string(spec.limit);
    suffix += '/';
    suffix += std::to_string(spec.seconds);
    suffix += '@';
    suffix += std::to_string(window);
    h = fnv1a(h, suffix);

    Decision d;
    d.reset = static_cast<std::uint32_t>(spec.seconds - now % spec.seconds);
    std::uint64_t count = 0;
    if (shared) {
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
        if (auto n = shared->count_request(hex, spec.seconds)) {
            count = static_cast<std::uint64_t>(std::max(*n, 0LL));
            d.counted_by = "cluster";
        } else if (auto held = redis_lines_.admit()) {
            log_.warning("rate limits: the shared cache is unavailable, this host counts alone" +
                         (*held ? " (" + std::to_string(*held) + " more since the last such line)"
                                : std::string()));
        }
    }
    if (d.counted_by.empty()) {
        count = host_.hit(h);
        d.counted_by = "host";
    }
    d.allowed = count <= spec.limit;
    d.remaining = d.allowed ? static_cast<std::uint32_t>(spec.limit - count) : 0;
    return d;
}

}  // namespace kiva
