// GET /jobs/<id>: the state of a job (kiva/jobs), for the user who enqueued it and the group
// its declaration names; anyone else learns nothing, not even that it exists (404).
#include "kiva/app/app.hpp"
#include "kiva/security/queries.hpp"

namespace kiva {

void App::publish_jobs(std::string path) {
    routes().get(
        path + "/<id:int>", AUTH,
        [this](Context& c, int64_t id) {
            auto job = db::FrameworkQueries(c.db).get_job(id);
            const std::string& login = c.login();
            bool visible = false;
            if (job) {
                const jobs::JobDecl* decl = jobs_.find(job->name);
                visible = job->enqueued_by == login ||
                          (decl && !decl->viewers.empty() && group_check_ &&
                           group_check_(c, login, decl->viewers));
            }
            if (!visible) throw HttpError(404, "no such job: " + std::to_string(id));
            std::string result = job->result.value_or("null");
            Response r;
            r.body = js::serialize(js::object{
                {"id", job->id},
                {"name", job->name},
                {"state", job->state},
                {"attempts", job->attempts},
                {"max_attempts", job->max_attempts},
                {"result", js::Raw{result}},
                {"error", job->last_error},
                {"created_at", job->created_at},
                {"run_at", job->run_at},
                {"finished_at", job->finished_at},
                {"request_id", job->request_id},
            });
            return r;
        },
        param<int64_t>("id"))
        .returns(200, R"({"type":"object","properties":{"id":{"type":"integer"},)"
                      R"("name":{"type":"string"},"state":{"enum":["queued","running","done",)"
                      R"("failed","cancelled"]},"attempts":{"type":"integer"},"result":{},)"
                      R"("error":{"type":["string","null"]}},"required":["id","state"]})");
}

}  // namespace kiva
