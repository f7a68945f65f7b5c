// Asynchronous work: POST /stuff/import queues the import of a list of names (202 Accepted,
// Location: /jobs/<id>), which `kiva --jobs` runs; GET /jobs/<id> (the framework's) tells its
// state to the user who sent it and to ADMIN.

#include <cstdlib>
#include <stdexcept>

#include "api/api.hpp"

namespace api {

using namespace kiva;

/// Every name or none: one transaction with the job's completion; a name taken already fails
/// the job for good with the database's 409 (no partial rows).
static int64_t import_stuff(jobs::JobContext& c, std::vector<std::string> names) {
    Queries q(c.db);
    for (const auto& name : names) q.add_stuff(name);
    c.log(LogLevel::info, "imported " + std::to_string(names.size()) + " names");
    return static_cast<int64_t>(names.size());
}

/// A cron job: the number of things, every hour at :00 UTC, once across every host (its result).
static int64_t stuff_census(jobs::JobContext& c) {
    return Queries(c.db).count_stuff().value_or(0);
}

/// The same count at a period the operator chooses, in seconds (COURSE_TALLY_SECONDS in the
/// workers' environment; unset: not declared), e.g. a dashboard's figure kept fresh: what the
/// cluster test counts, one run per period with two hosts.
static int64_t stuff_tally(jobs::JobContext& c) {
    int64_t n = Queries(c.db).count_stuff().value_or(0);
    c.log(LogLevel::info, "tally: " + std::to_string(n) + " things");
    return n;
}

/// COURSE_TALLY_SECONDS: 1 to 86400, or unset (0); anything else stops the start.
static int tally_seconds() {
    const char* text = std::getenv("COURSE_TALLY_SECONDS");
    if (!text || !*text) return 0;
    char* end = nullptr;
    long seconds = std::strtol(text, &end, 10);
    if (*end || seconds < 1 || seconds > 86400)
        throw std::invalid_argument(
            std::string("COURSE_TALLY_SECONDS must be 1 to 86400 (seconds), not \"") + text + "\"");
    return static_cast<int>(seconds);
}

static Response post_stuff_import(Context& c, Json names, std::optional<std::string> key) {
    // The payload is checked against the job's declared type here (400: not a list of strings).
    // A key the client chose refuses the same import sent again while it is pending (409).
    jobs::Options options;
    if (key) options.unique_key = "import_stuff:" + c.login() + ":" + *key;
    int64_t id = c.enqueue("import_stuff", names, options);
    // Names taken already are refused at once: the 409 rolls back the request, and with it
    // the job just queued (a job exists iff its request commits).
    std::vector<std::string> list = jobs::decode_payload<std::vector<std::string>>(names.value());
    if (c.q.count_stuff_named(list).value_or(0) > 0) throw HttpError(409, "some names exist already");
    Response r = json(object{{"job", id}}, 202);
    r.header("Location", std::string(c.request.var("SCRIPT_NAME")) + "/jobs/" + std::to_string(id));
    return r;
}

void jobs(App& app, Routes r) {
    app.jobs().job<std::vector<std::string>>("import_stuff", import_stuff);
    app.jobs().cron("stuff_census", "0 * * * *", stuff_census);
    r.post("/stuff/import", AUTH, post_stuff_import, param<Json>("names"), maybe<std::string>("key"))
        .returns(202, R"({"type":"object","properties":{"job":{"type":"integer"}},"required":["job"]})");
    if (int every = tally_seconds(); every > 0)
        app.jobs().periodic("stuff_tally", std::chrono::seconds(every), stuff_tally);
    app.publish_jobs();  // GET /jobs/<id>
}

}  // namespace api
