// One resource on the installed framework: its routes, its typed queries, kiva's main.
#include "generated/queries.hpp"
#include "kiva/server/main.hpp"

namespace items {

Response get_items(Context& c) { return json(c.q.get_items()); }

Response post_item(Context& c, std::string name) {
    return json(object{{"iid", c.q.add_item(name)}}, 201);
}

void declare(App& app) {
    auto r = app.routes();
    r.get("/items", OPEN, get_items).returns_list<ItemRow>();
    r.post("/items", OPEN, post_item, param<std::string>("name"));
}

}  // namespace items

int main(int argc, char** argv) {
    return kiva::main(argc, argv, {items::declare, items::Queries::compiled(), items::Queries::first});
}
