#include "kiva/security/auth/password_cache.hpp"

#include "kiva/security/auth/crypto.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <mutex>

namespace kiva::auth {

PasswordCache::PasswordCache(std::chrono::seconds ttl, std::size_t max_entries)
    : ttl_(ttl), max_entries_(max_entries), hmac_key_(random_bytes(32)) {}

PasswordCache::~PasswordCache() {
    OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size());
}

bool PasswordCache::enabled() const {
    return ttl_ > std::chrono::seconds::zero() && max_entries_ > 0;
}

// login '\0' HMAC: the HMAC has a fixed size, so the key splits back unambiguously even
// if a login contained a NUL. A keyed hash, so that a memory dump does not give away
// hashes to test guesses against offline.
std::string PasswordCache::entry_key(std::string_view login, std::string_view password) const {
    std::string key(login);
    key += '\0';
    key += hmac_sha256(hmac_key_, password);
    return key;
}

bool PasswordCache::known_good(std::string_view login, std::string_view password,
                               time_point now, std::int64_t generation) const {
    if (!enabled()) return false;
    const std::string key = entry_key(login, password);
    const std::shared_lock lock(mutex_);
    const auto entry = expiries_.find(key);
    return entry != expiries_.end() && now < entry->second.expiry &&
           entry->second.generation == generation;
}

void PasswordCache::remember(std::string_view login, std::string_view password, time_point now,
                             std::int64_t generation) {
    if (!enabled()) return;
    std::string key = entry_key(login, password);
    const time_point expiry = now + ttl_;
    const std::unique_lock lock(mutex_);
    if (const auto entry = expiries_.find(key); entry != expiries_.end()) {
        entry->second = {expiry, generation};
        return;
    }
    if (expiries_.size() >= max_entries_) make_room(now);
    expiries_.emplace(std::move(key), Entry{expiry, generation});
}

// Linear scans: remember() follows a bcrypt check that costs milliseconds, so walking ten
// thousand entries now and then is noise, and it needs no second index to keep in step.
void PasswordCache::make_room(time_point now) {
    std::erase_if(expiries_, [now](const auto& entry) { return entry.second.expiry <= now; });
    if (expiries_.size() < max_entries_) return;
    const auto soonest =
        std::min_element(expiries_.begin(), expiries_.end(),
                         [](const auto& a, const auto& b) { return a.second.expiry < b.second.expiry; });
    expiries_.erase(soonest);
}

void PasswordCache::forget(std::string_view login) {
    const std::size_t key_size = login.size() + 1 + 32;
    const std::unique_lock lock(mutex_);
    std::erase_if(expiries_, [&](const auto& entry) {
        const std::string_view key = entry.first;
        return key.size() == key_size && key.substr(0, login.size()) == login &&
               key[login.size()] == '\0';
    });
}

std::size_t PasswordCache::size() const {
    const std::shared_lock lock(mutex_);
    return expiries_.size();
}

}  // namespace kiva::auth
