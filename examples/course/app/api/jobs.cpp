// Asynchronous work: POST /stuff/import queues the import of a list of names (202 Accepted,
// Location: /jobs/<id>), which `kiva --jobs` runs; GET /jobs/<id> (the framework's) tells its
// state to the user who sent it and to ADMIN.

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
    app.publish_jobs();  // GET /jobs/<id>
}

}  // namespace api
