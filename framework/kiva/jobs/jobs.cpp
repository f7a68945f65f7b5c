#include "kiva/jobs/jobs.hpp"

#include <algorithm>

#include "kiva/http/http_error.hpp"
#include "kiva/security/queries.hpp"

namespace kiva::jobs {

namespace {

/// A name from code, quoted in an error: printable ASCII, at most 64 characters.
std::string shown(std::string_view text) {
    std::string out;
    for (char ch : text.substr(0, 64)) out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    return out;
}

}  // namespace

void JobContext::log(LogLevel level, std::string_view message) const {
    if (!logger.enabled(level)) return;
    logger.log(level, "job " + name + "#" + std::to_string(id) + ": " + std::string(message),
               request_id);
}

Registry& Registry::add(JobDecl d) {
    bool good = !d.name.empty() && d.name.size() <= 64 &&
                std::all_of(d.name.begin(), d.name.end(), [](char ch) {
                    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                           ch == '.' || ch == '-';
                });
    if (!good)
        throw std::logic_error("job name \"" + d.name +
                               "\": 1 to 64 of a-z, 0-9, '_', '.', '-'");
    if (find(d.name)) throw std::logic_error("job \"" + d.name + "\" declared twice");
    if (d.max_attempts < 1)
        throw std::logic_error("job \"" + d.name + "\": max_attempts must be at least 1");
    decls_.push_back(std::move(d));
    return *this;
}

const JobDecl* Registry::find(std::string_view name) const {
    for (const auto& d : decls_)
        if (d.name == name) return &d;
    return nullptr;
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    for (const auto& d : decls_) out.push_back(d.name);
    return out;
}

int64_t Registry::enqueue(db::Database& db, std::string_view name, std::string_view payload_json,
                          const Options& options, const std::optional<std::string>& user,
                          std::string_view request_id) const {
    const JobDecl* d = find(name);
    if (!d) throw HttpError(400, "unknown job \"" + shown(name) + "\"");
    rapidjson::Document doc;
    doc.Parse(payload_json.data(), payload_json.size());
    if (doc.HasParseError()) throw HttpError(400, "job payload is not valid JSON");
    try {
        d->check(doc);  // 400 when it does not fit the declared type
    } catch (const HttpError& e) {
        throw HttpError(400, "job \"" + d->name + "\": " + e.what());
    }
    if (options.max_attempts < 0) throw HttpError(400, "max_attempts must be positive");
    std::optional<double> run_at;
    if (options.run_at)
        run_at = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                         options.run_at->time_since_epoch())
                                         .count()) /
                 1e6;
    std::optional<std::string> request;
    if (!request_id.empty()) request = std::string(request_id);
    auto id = db::FrameworkQueries(db).enqueue_job(
        std::string(name), std::string(payload_json), options.priority, run_at,
        options.max_attempts ? options.max_attempts : d->max_attempts, options.unique_key, user,
        request);
    if (!id)
        throw HttpError(409, "a job \"" + shown(name) + "\" with this unique key is already pending");
    return *id;
}

}  // namespace kiva::jobs
