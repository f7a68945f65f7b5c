#include "kiva/cache/redis.hpp"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <stdexcept>
#include <sys/time.h>

namespace kiva::cache {

namespace {

timeval to_timeval(std::chrono::milliseconds t) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    return tv;
}

Reply copy(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = Reply::Type::string;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = Reply::Type::status;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = Reply::Type::error;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = Reply::Type::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::array;
            for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy(r->element[i]));
            break;
        default:
            break;
    }
    return out;
}

/// hiredis says "Resource temporarily unavailable" for a timeout.
std::string failure(const redisContext* c) {
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return "Redis: timed out";
    return "Redis: " + std::string(c->errstr);
}

struct ReplyFree {
    void operator()(void* r) const { freeReplyObject(r); }
};

std::string run_id_of(std::string_view info) {
    auto at = info.find("run_id:");
    if (at == std::string_view::npos) return {};
    info.remove_prefix(at + 7);
    return std::string(info.substr(0, info.find_first_of("\r\n")));
}

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// After a failure, one attempt per second: a request on a dead Redis costs no timeout.
constexpr std::chrono::nanoseconds backoff = std::chrono::seconds(1);

}  // namespace

Connection::Connection(const RedisUrl& url, const std::string& password,
                       std::chrono::milliseconds timeout) {
    timeval tv = to_timeval(timeout);
    context_ = url.socket.empty() ? redisConnectWithTimeout(url.host.c_str(), url.port, tv)
                                  : redisConnectUnixWithTimeout(url.socket.c_str(), tv);
    if (!context_) throw std::runtime_error("cannot allocate a Redis connection");
    if (context_->err) {
        std::string why = context_->errstr;
        redisFree(context_);
        throw std::runtime_error("cannot connect to Redis at " + url.text() + ": " + why);
    }
    if (redisSetTimeout(context_, tv) != REDIS_OK) {
        redisFree(context_);
        throw std::runtime_error("cannot set the Redis command timeout");
    }
    std::vector<Command> hello;
    if (!password.empty()) hello.push_back({"AUTH", password});
    if (url.db != 0) hello.push_back({"SELECT", std::to_string(url.db)});
    hello.push_back({"INFO", "server"});
    try {
        auto replies = run(hello);
        for (const auto& r : replies)
            if (r.type == Reply::Type::error)
                // Never the command: AUTH's argument is the password.
                throw std::runtime_error("Redis at " + url.text() + " refused the connection: " +
                                         r.text);
        run_id_ = run_id_of(replies.back().text);
    } catch (...) {
        redisFree(context_);
        throw;
    }
}

Connection::~Connection() {
    redisFree(context_);
}

std::vector<Reply> Connection::run(const std::vector<Command>& commands) {
    for (const auto& command : commands) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const auto& word : command) {
            argv.push_back(word.data());
            lengths.push_back(word.size());
        }
        if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                                   lengths.data()) != REDIS_OK)
            throw std::runtime_error(failure(context_));
    }
    std::vector<Reply> replies;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(context_, &raw) != REDIS_OK || !raw) throw std::runtime_error(failure(context_));
        std::unique_ptr<void, ReplyFree> owned(raw);
        replies.push_back(copy(static_cast<redisReply*>(raw)));
    }
    return replies;
}

Redis::Redis(RedisUrl url, std::string password, std::chrono::milliseconds timeout)
    : url_(std::move(url)), password_(std::move(password)), timeout_(timeout) {}

Redis::~Redis() {
    OPENSSL_cleanse(password_.data(), password_.size());
}

std::unique_ptr<Connection> Redis::take() const {
    {
        const std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto c = std::move(idle_.back());
            idle_.pop_back();
            return c;
        }
    }
    return std::make_unique<Connection>(url_, password_, timeout_);
}

void Redis::give_back(std::unique_ptr<Connection> c) const {
    const std::lock_guard lock(mutex_);
    idle_.push_back(std::move(c));
}

std::optional<Redis::Result> Redis::run(std::string_view op, const std::vector<Command>& commands,
                                        bool force) const {
    return run(op, [&](const std::string&) { return commands; }, force);
}

std::optional<Redis::Result> Redis::run(std::string_view op, const Builder& commands,
                                        bool force) const {
    auto tell = [&](Outcome o, std::string_view why = {}) {
        if (observer_) observer_(op, o, why);
    };
    if (!force && steady_ns() < retry_at_.load(std::memory_order_relaxed)) {
        tell(Outcome::skipped);
        return std::nullopt;
    }
    try {
        auto c = take();
        Result result{c->run(commands(c->run_id())), c->run_id()};
        give_back(std::move(c));
        retry_at_.store(0, std::memory_order_relaxed);
        tell(Outcome::ok);
        return result;
    } catch (const std::exception& e) {
        // The connection is dropped with its half-read replies; the next attempt reconnects.
        retry_at_.store(steady_ns() + backoff.count(), std::memory_order_relaxed);
        tell(Outcome::error, e.what());
        return std::nullopt;
    }
}

}  // namespace kiva::cache
