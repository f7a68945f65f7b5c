#include "kiva/security/revocation_cache.hpp"

#include <mutex>

#include "kiva/db/notifications.hpp"

namespace kiva {

RevocationCache::RevocationCache(std::chrono::seconds max_age, std::chrono::milliseconds check)
    : max_age_(max_age), check_(check) {}

RevocationCache::~RevocationCache() {
    listener_.reset();  // joins the thread before the maps go
}

bool RevocationCache::live() const {
    std::shared_lock lock(mutex_);
    const auto silent = Clock::now().time_since_epoch().count() - last_heard_.load();
    return up_ && silent < std::chrono::duration_cast<Clock::duration>(check_ * 2).count();
}

std::optional<RevocationCache::Verdict> RevocationCache::find(std::string_view digest,
                                                              std::string_view login) const {
    const auto now = Clock::now();
    {
        std::shared_lock lock(mutex_);
        const auto silent = now.time_since_epoch().count() - last_heard_.load();
        if (up_ && silent < std::chrono::duration_cast<Clock::duration>(check_ * 2).count()) {
            // Heterogeneous lookup needs C++20's is_transparent hashes: a copy is cheaper to write.
            const auto t = tokens_.find(std::string(digest));
            const auto l = logins_.find(std::string(login));
            if (t != tokens_.end() && l != logins_.end() && now - t->second.read_at < max_age_ &&
                now - l->second.read_at < max_age_) {
                hits_.fetch_add(1, std::memory_order_relaxed);
                return Verdict{t->second.revoked, l->second.generation};
            }
        }
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

void RevocationCache::remember(std::uint64_t ticket, std::string_view digest,
                               std::string_view login, Verdict verdict) {
    const auto now = Clock::now();
    std::unique_lock lock(mutex_);
    if (!up_ || ticket != invalidations_.load()) return;
    if (tokens_.size() >= max_entries || logins_.size() >= max_entries) {
        tokens_.clear();
        logins_.clear();
    }
    tokens_[std::string(digest)] = {verdict.revoked, now};
    logins_[std::string(login)] = {verdict.generation, now};
}

void RevocationCache::forget_all() {
    tokens_.clear();
    logins_.clear();
    invalidations_.fetch_add(1, std::memory_order_acq_rel);
}

void RevocationCache::up() {
    std::unique_lock lock(mutex_);
    forget_all();  // whatever happened while it was down was not heard
    last_heard_ = Clock::now().time_since_epoch().count();
    up_ = true;
}

void RevocationCache::down() {
    std::unique_lock lock(mutex_);
    up_ = false;
    forget_all();
}

void RevocationCache::heard() {
    last_heard_ = Clock::now().time_since_epoch().count();
}

void RevocationCache::forget(std::string_view payload) {
    std::unique_lock lock(mutex_);
        invalidations_.fetch_add(1, std::memory_order_acq_rel);
        if (payload.starts_with("t:"))
            tokens_.erase(std::string(payload.substr(2)));
        else if (payload.starts_with("c:"))
            logins_.erase(std::string(payload.substr(2)));
        else
            forget_all();
}

void RevocationCache::message(std::string_view payload) {
    forget(payload);
    std::lock_guard lock(await_mutex_);
    bool any = false;
    for (auto& weak : expected_)
        if (auto e = weak.lock(); e && e->payload == payload) any = e->arrived = true;
    if (any) arrived_.notify_all();
}

std::shared_ptr<RevocationCache::Expectation> RevocationCache::expect(std::string payload) {
    auto e = std::make_shared<Expectation>(Expectation{std::move(payload)});
    std::lock_guard lock(await_mutex_);
    std::erase_if(expected_, [](const auto& weak) { return weak.expired(); });
    expected_.push_back(e);
    return e;
}

void RevocationCache::await(const std::shared_ptr<Expectation>& e) {
    if (!live()) return;
    std::unique_lock lock(await_mutex_);
    arrived_.wait_for(lock, await_limit, [&] { return e->arrived; });
}

void RevocationCache::listen(const std::string& conninfo, const std::string& app_name,
                             const Logger& log) {
    if (listener_) return;
    db::NotificationEvents events{[this] { up(); }, [this] { down(); }, [this] { heard(); },
                                  [this](std::string_view payload) { message(payload); }};
    listener_ = std::make_unique<db::NotificationListener>(conninfo, app_name, channel, check_,
                                                           std::move(events), log);
}

}  // namespace kiva
