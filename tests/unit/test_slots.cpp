// Per-process slots shared by every worker process (observe/slots): across fork, across
// processes that only share the file, stale slots reused with their counts kept.

#include "kiva/observe/slots.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "kiva/observe/metrics.hpp"

using kiva::observe::SlotFile;

namespace {

std::string temp_path(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() /
               ("kiva-slots-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::remove(dir);
    return dir.string();
}

unsigned mode(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 0777) : 0u;
}

std::uint64_t total(const SlotFile& f, std::size_t index) {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < f.slots(); ++s)
        if (f.used(s)) sum += SlotFile::get(f.slot_values(s), index);
    return sum;
}

/// Forks a child that claims a slot, adds n to counter 0 of it, and exits (releasing it
/// first, or not: as if killed).
void child_counts(SlotFile& f, std::uint64_t n, bool release) {
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        f.claim();
        for (std::uint64_t i = 0; i < n; ++i) SlotFile::add(f.current(), 0, 1);
        if (release) f.release();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(slots)

BOOST_AUTO_TEST_CASE(anonymous_memory_is_shared_with_forked_children) {
    SlotFile f("", 1, 4, 8);
    child_counts(f, 1000, true);
    child_counts(f, 234, true);
    BOOST_TEST(total(f, 0) == 1234u);
}

BOOST_AUTO_TEST_CASE(a_file_is_shared_by_processes_that_only_open_it) {
    std::string path = temp_path("file");
    {
        SlotFile a(path, 7, 4, 8);
        a.claim();
        SlotFile::add(a.current(), 1, 5);
        SlotFile b(path, 7, 4, 8);  // another mapping of the same file, as another process has
        BOOST_TEST(total(b, 1) == 5u);
        SlotFile::add(a.current(), 1, 2);
        BOOST_TEST(total(b, 1) == 7u);
        a.release();
    }
    SlotFile again(path, 7, 4, 8);  // counts outlive the processes
    BOOST_TEST(total(again, 1) == 7u);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(a_dead_process_slot_is_reused_with_its_counts) {
    std::string path = temp_path("stale");
    SlotFile f(path, 9, 2, 4);
    child_counts(f, 10, false);  // killed: its slot is still marked as its own
    BOOST_TEST(f.used(0));
    BOOST_TEST(!f.live(0));
    auto claim = f.claim();
    BOOST_TEST(claim.slot == 0u);  // reused, not a new one
    BOOST_TEST(claim.stale);
    BOOST_TEST(f.live(0));
    SlotFile::add(f.current(), 0, 1);
    BOOST_TEST(total(f, 0) == 11u);  // the total never went down
    f.release();
    BOOST_TEST(!f.live(0));
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(live_processes_keep_their_own_slots_and_the_last_is_shared) {
    SlotFile f("", 3, 1, 3);
    int ready[2];
    BOOST_REQUIRE(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {  // holds slot 0 until killed
        f.claim();
        char c = 'x';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    BOOST_REQUIRE(read(ready[0], &c, 1) == 1);
    auto mine = f.claim();
    BOOST_TEST(mine.slot == 1u);
    BOOST_TEST(!mine.stale);
    f.release();
    pid_t other = fork();
    if (other == 0) {  // takes slot 1 and waits
        f.claim();
        pause();
        _exit(0);
    }
    while (!f.live(1)) usleep(1000);
    auto shared = f.claim();  // slots 0 and 1 are held by running processes
    BOOST_TEST(shared.shared);
    BOOST_TEST(shared.slot == 2u);
    kill(pid, SIGKILL);
    kill(other, SIGKILL);
    waitpid(pid, nullptr, 0);
    waitpid(other, nullptr, 0);
    BOOST_TEST(!f.live(0));
    close(ready[0]);
    close(ready[1]);
}

BOOST_AUTO_TEST_CASE(the_file_is_group_writable_whatever_the_umask) {
    // A systemd unit's UMask=0077: the file must still be shared with the instance's other
    // users (mod_fcgid's www-data, in the app's group), as made and as replaced.
    std::string path = temp_path("mode");
    mode_t before = umask(0077);
    {
        SlotFile made(path, 1, 2, 4);
        BOOST_TEST(mode(path) == 0660u);
        SlotFile replaced(path, 2, 2, 4);
        BOOST_TEST(mode(path) == 0660u);
    }
    umask(before);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(another_layout_replaces_the_file) {
    std::string path = temp_path("layout");
    SlotFile old_release(path, 1, 2, 4);
    old_release.claim();
    SlotFile::add(old_release.current(), 0, 3);
    SlotFile new_release(path, 2, 5, 4);  // other counters: a fresh file, the old one untouched
    BOOST_TEST(total(new_release, 0) == 0u);
    BOOST_TEST(total(old_release, 0) == 3u);
    SlotFile reopened(path, 2, 5, 4);
    BOOST_TEST(reopened.values() == 5u);
    old_release.release();
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(metrics_of_a_killed_process_still_count_and_its_gauge_does_not) {
    std::string path = temp_path("metrics");
    {
        kiva::observe::Metrics m(path, {{"GET", "/x"}}, {});
        pid_t pid = fork();
        if (pid == 0) {
            kiva::observe::Metrics child(path, {{"GET", "/x"}}, {});  // as mod_fcgid's processes
            child.start_process();
            for (int i = 0; i < 7; ++i) child.request(0, "GET", 200, std::chrono::milliseconds(1));
            child.busy(1);  // killed in the middle of a request
            _exit(0);
        }
        waitpid(pid, nullptr, 0);
        m.start_process();
        m.request(0, "GET", 200, std::chrono::milliseconds(1));
        std::string text = m.exposition("r");
        BOOST_TEST(
            text.find("kiva_http_requests_total{route=\"/x\",method=\"GET\",status=\"200\"} 8\n") !=
                std::string::npos,
            text);
        BOOST_TEST(text.find("\nkiva_threads_busy 0\n") != std::string::npos);
        BOOST_TEST(text.find("\nkiva_worker_lost_total 1\n") != std::string::npos);
        m.stop_process();
    }
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(process_identity_tells_a_running_process) {
    BOOST_TEST(kiva::observe::process_identity(getpid()) != 0u);
    BOOST_TEST(kiva::observe::process_identity(getpid()) ==
               kiva::observe::process_identity(getpid()));
    BOOST_TEST(kiva::observe::process_identity(0x3ffffe) == 0u);  // no such pid
}

BOOST_AUTO_TEST_SUITE_END()
