#pragma once
// The application: one file per resource, each declaring its routes on the App.

#include "generated/queries.hpp"  // @NAME@::Queries, the rows, @NAME@::Context (with c.q)
#include "kiva/app/app.hpp"

namespace @NAME@ {

/// Accounts: the password and group callbacks, GET /login (a token), GET /whoami.
void accounts(kiva::App& app, kiva::Routes routes);
/// Items: CRUDS over the Item table.
void items(kiva::Routes routes);

/// Declares the whole API.
inline void declare(kiva::App& app) {
    accounts(app, app.routes());
    items(app.routes());
    app.publish_openapi();  // GET /openapi.json
}

}  // namespace @NAME@
