// Items: CRUDS over the Item table. Anyone reads, an authenticated user adds and renames,
// ADMIN deletes; a duplicate name is a 409 (the unique constraint says so).

#include "api.hpp"

namespace @NAME@ {

using namespace kiva;

namespace {

[[noreturn]] void no_such_item(int64_t iid) {
    throw HttpError(404, "no such item: " + std::to_string(iid));
}

Response get_items(Context& c) {
    return json(c.q.get_items());
}

Response post_item(Context& c, std::string name) {
    return json(object{{"iid", c.q.add_item(name)}}, 201);
}

Response get_item(Context& c, int64_t iid) {
    auto item = c.q.get_item(iid);
    if (!item) no_such_item(iid);
    return json(*item);
}

Response put_item(Context& c, int64_t iid, std::string name) {
    if (c.q.rename_item(name, iid) == 0) no_such_item(iid);
    return no_content();
}

Response delete_item(Context& c, int64_t iid) {
    if (c.q.delete_item(iid) == 0) no_such_item(iid);
    return no_content();
}

}  // namespace

void items(Routes r) {
    r.get("/items", OPEN, get_items).returns_list<ItemRow>();
    r.post("/items", AUTH, post_item, param<std::string>("name"))
        .returns(201, R"({"type":"object","properties":{"iid":{"type":"integer"}},"required":["iid"]})");
    r.get("/items/<iid:int>", OPEN, get_item, param<int64_t>("iid")).returns<ItemRow>();
    r.put("/items/<iid:int>", AUTH, put_item, param<int64_t>("iid"), param<std::string>("name"))
        .returns(204, "");
    r.del("/items/<iid:int>", group("ADMIN"), delete_item, param<int64_t>("iid")).returns(204, "");
}

}  // namespace @NAME@
