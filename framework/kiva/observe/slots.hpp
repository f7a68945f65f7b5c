#pragma once
/// @file
/// SlotFile: per-process slots of 64-bit counters in memory shared by every worker process
/// of an instance, so that whichever process answers a scrape can sum them all.
///
/// With a path, the memory is a file mmap'ed MAP_SHARED: processes that share no parent
/// (mod_fcgid spawns each one itself) find each other's counts there. Without one, it is an
/// anonymous shared mapping, shared with the processes forked after it (prefork).
///
/// A process claims a slot (owner = its pid and start time, set by compare-and-swap) and
/// only adds to it, without locks (relaxed atomic adds). A slot whose owner is gone, after a
/// crash or a clean exit, is reused by the next process as it is: its counts are kept, so
/// totals never go down when processes come and go (Prometheus reads a decrease as a reset).
/// When every slot is held by a live process, the last slot is shared by the newcomers.

#include <sys/types.h>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiva::observe {

/// The identity of a running process: pid and start time (so a reused pid is not mistaken
/// for the process that had it). 0 when no such process runs.
std::uint64_t process_identity(pid_t pid);

class SlotFile {
  public:
    /// Maps (creating or re-initializing when its layout differs) `slots` slots of `values`
    /// counters; layout identifies what the counters mean. Throws std::runtime_error.
    SlotFile(const std::string& path, std::uint64_t layout, std::size_t values, std::size_t slots);
    ~SlotFile();
    SlotFile(const SlotFile&) = delete;
    SlotFile& operator=(const SlotFile&) = delete;

    struct Claim {
        std::size_t slot;
        /// The slot's previous owner had not released it (it died).
        bool stale;
        /// Shared with other live processes (every slot was taken).
        bool shared;
    };
    /// Claims a slot for this process (after any fork) and makes it the current one.
    Claim claim();
    /// Gives the current slot back (its counts stay).
    void release();

    /// The current slot's counters (a process-local scratch slot before claim()).
    std::uint64_t* current() const { return current_; }
    static void add(std::uint64_t* values, std::size_t index, std::uint64_t n) {
        std::atomic_ref<std::uint64_t>(values[index]).fetch_add(n, std::memory_order_relaxed);
    }
    static void set(std::uint64_t* values, std::size_t index, std::uint64_t n) {
        std::atomic_ref<std::uint64_t>(values[index]).store(n, std::memory_order_relaxed);
    }
    static std::uint64_t get(const std::uint64_t* values, std::size_t index) {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(values[index]))
            .load(std::memory_order_relaxed);
    }

    std::size_t slots() const { return slots_; }
    std::size_t values() const { return values_; }
    /// Whether a process has ever counted in the slot.
    bool used(std::size_t slot) const;
    /// Whether the slot's owner runs (the shared last slot: while anyone uses it).
    bool live(std::size_t slot) const;
    const std::uint64_t* slot_values(std::size_t slot) const;
    const std::string& path() const { return path_; }

  private:
    struct Header;
    std::uint64_t* owner(std::size_t slot) const;

    std::string path_;
    std::size_t values_, slots_, stride_, bytes_ = 0;
    unsigned char* base_ = nullptr;
    std::uint64_t* current_ = nullptr;
    std::uint64_t* scratch_ = nullptr;
    std::size_t claimed_ = static_cast<std::size_t>(-1);
};

}  // namespace kiva::observe
