#include "kiva/observe/slots.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace kiva::observe {

namespace {

constexpr std::uint64_t magic = 0x31534c4f5453564bULL;  // "KVSTOLS1"
constexpr std::uint64_t pid_bits = 22;                  // pid_max is at most 2^22

/// Per slot, before its counters: the owner's identity and whether it was ever used.
constexpr std::size_t slot_header = 2;

std::runtime_error failure(const std::string& what, const std::string& path) {
    return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

/// A file descriptor closed on every path out, its lock released first: a mapping keeps the
/// open file (and so its flock) alive after close.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd < 0) return;
        flock(fd, LOCK_UN);
        close(fd);
    }
};

}  // namespace

struct SlotFile::Header {
    std::uint64_t magic, layout, values, slots;
};

std::uint64_t process_identity(pid_t pid) {
    // Field 22 of /proc/PID/stat is the start time in clock ticks; the command (field 2) may
    // hold spaces and parentheses, so fields are counted after its last ')'.
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return 0;
    auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    // After it: field 3 (the state) first, so the start time is the 20th word.
    std::istringstream fields(text.substr(close + 1));
    std::string word;
    std::uint64_t ticks = 0;
    for (int field = 3; field <= 22 && fields >> word; ++field) {
        if (field == 3 && word == "Z") return 0;  // a zombie is dead
        if (field == 22) ticks = std::strtoull(word.c_str(), nullptr, 10);
    }
    if (ticks == 0) return 0;
    return (ticks << pid_bits) | (static_cast<std::uint64_t>(pid) & ((1ULL << pid_bits) - 1));
}

SlotFile::SlotFile(const std::string& path, std::uint64_t layout, std::size_t values,
                   std::size_t slots)
    : path_(path), values_(values), slots_(slots), stride_(slot_header + values) {
    if (slots_ < 2) throw std::invalid_argument("a slot file needs at least two slots");
    bytes_ = sizeof(Header) + slots_ * stride_ * sizeof(std::uint64_t);
    scratch_ = new std::uint64_t[values_]();
    current_ = scratch_;
    Header want{magic, layout, values_, slots_};
    if (path_.empty()) {
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw failure("cannot map shared memory for", "metrics");
        base_ = static_cast<unsigned char*>(p);
        std::memcpy(base_, &want, sizeof want);
        return;
    }
    // Several processes may start at once: the first one, under an exclusive lock, sizes and
    // labels the file. A file of another layout (another release) is replaced, not reused:
    // its processes keep their mapping of the old inode, whose counts are no longer read.
    for (int attempt = 0; attempt < 10; ++attempt) {
        Fd f;
        f.fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0660);
        if (f.fd < 0) throw failure("cannot open the metrics file", path_);
        if (flock(f.fd, LOCK_EX) != 0) throw failure("cannot lock the metrics file", path_);
        struct stat mine {
        }, named{};
        if (fstat(f.fd, &mine) != 0) throw failure("cannot stat", path_);
        if (stat(path_.c_str(), &named) != 0 || named.st_ino != mine.st_ino ||
            named.st_dev != mine.st_dev)
            continue;  // replaced while we waited for the lock: open the new one
        Header found{};
        bool fits = static_cast<std::size_t>(mine.st_size) == bytes_ &&
                    pread(f.fd, &found, sizeof found, 0) == static_cast<ssize_t>(sizeof found) &&
                    std::memcmp(&found, &want, sizeof want) == 0;
        if (!fits && mine.st_size != 0) {
            // Another layout: a fresh file renamed over it, so that no live mapping changes.
            std::string fresh = path_ + ".new." + std::to_string(getpid());
            Fd n;
            n.fd = open(fresh.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
            if (n.fd < 0) throw failure("cannot create", fresh);
            (void)fchmod(n.fd, 0660);  // as below: whatever the umask
            if (ftruncate(n.fd, static_cast<off_t>(bytes_)) != 0 ||
                pwrite(n.fd, &want, sizeof want, 0) != static_cast<ssize_t>(sizeof want) ||
                rename(fresh.c_str(), path_.c_str()) != 0) {
                unlink(fresh.c_str());
                throw failure("cannot initialize the metrics file", path_);
            }
            continue;
        }
        if (!fits) {
            // Read and written by every process of the instance, whatever its user's umask
            // (a systemd unit's UMask=0077): the app's group, which run/ gives it (setgid).
            (void)fchmod(f.fd, 0660);
            if (ftruncate(f.fd, static_cast<off_t>(bytes_)) != 0 ||
                pwrite(f.fd, &want, sizeof want, 0) != static_cast<ssize_t>(sizeof want))
                throw failure("cannot initialize the metrics file", path_);
        }
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
        if (p == MAP_FAILED) throw failure("cannot map the metrics file", path_);
        base_ = static_cast<unsigned char*>(p);
        return;  // the descriptor (and its lock) goes, the mapping stays
    }
    throw std::runtime_error("the metrics file " + path_ + " keeps being replaced");
}

SlotFile::~SlotFile() {
    if (base_) munmap(base_, bytes_);
    delete[] scratch_;
}

std::uint64_t* SlotFile::owner(std::size_t slot) const {
    return reinterpret_cast<std::uint64_t*>(base_ + sizeof(Header)) + slot * stride_;
}

const std::uint64_t* SlotFile::slot_values(std::size_t slot) const {
    return owner(slot) + slot_header;
}

bool SlotFile::used(std::size_t slot) const {
    return get(owner(slot), 1) != 0;
}

bool SlotFile::live(std::size_t slot) const {
    std::uint64_t who = get(owner(slot), 0);
    if (slot == slots_ - 1) return used(slot);
    if (who == 0) return false;
    return process_identity(static_cast<pid_t>(who & ((1ULL << pid_bits) - 1))) == who;
}

SlotFile::Claim SlotFile::claim() {
    std::uint64_t me = process_identity(getpid());
    for (std::size_t i = 0; i + 1 < slots_; ++i) {
        std::atomic_ref<std::uint64_t> who(*owner(i));
        std::uint64_t seen = who.load();
        if (seen == me) return {i, false, false};
        if (seen != 0 && live(i)) continue;
        if (!who.compare_exchange_strong(seen, me)) continue;  // another process was faster
        set(owner(i), 1, 1);
        current_ = owner(i) + slot_header;
        claimed_ = i;
        return {i, seen != 0, false};
    }
    std::size_t last = slots_ - 1;
    set(owner(last), 1, 1);
    current_ = owner(last) + slot_header;
    claimed_ = last;
    return {last, false, true};
}

void SlotFile::release() {
    if (claimed_ + 1 < slots_) {
        std::uint64_t me = process_identity(getpid());
        std::atomic_ref<std::uint64_t>(*owner(claimed_)).compare_exchange_strong(me, 0);
    }
    claimed_ = static_cast<std::size_t>(-1);
    current_ = scratch_;
}

}  // namespace kiva::observe
