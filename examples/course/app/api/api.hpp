#pragma once
// The application: one file per resource, each declaring its routes on the App.

#include "generated/queries.hpp"  // api::Queries, the rows, api::Context (with c.q)
#include "kiva/app/app.hpp"

namespace api {

void version(kiva::Routes routes);
void stuff(kiva::Routes routes);
/// Users: registration, the password and group callbacks, hello/whoami/login.
void users(kiva::App& app, kiva::Routes routes);
/// Owned objects and their permission callbacks.
void owned(kiva::App& app, kiva::Routes routes);
/// The compute blueprint, mounted under /cmp.
void compute(kiva::Routes routes);
/// POST /stuff/import (a job) and GET /jobs/<id>.
void jobs(kiva::App& app, kiva::Routes routes);

/// Declares the whole API.
inline void register_api(kiva::App& app) {
    version(app.routes());
    stuff(app.routes());
    users(app, app.routes());
    owned(app, app.routes());
    compute(app.routes().group("/cmp"));
    jobs(app, app.routes());
    app.publish_openapi();  // GET /openapi.json
}

}  // namespace api
