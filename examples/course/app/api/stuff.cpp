// The Stuff resource: CRUDS over the Stuff table.

#include "api/api.hpp"

namespace api {

using namespace kiva;

static Response get_stuff(Context& c, std::optional<std::string> filter,
                          std::optional<std::vector<int64_t>> ids, Page page) {
    if (ids && filter) throw HttpError(400, "send filter or ids, not both");
    if (page) {  // ?limit=N: a page in sid order, and a Link to the next one while more exist
        if (ids) throw HttpError(400, "send ids or limit, not both");
        if (filter && filter->empty()) filter.reset();
        return page.answer(c, c.q.get_stuff_page(page.after(), filter, page.fetch()).all(),
                           [](const StuffRow& row) { return row.sid; });
    }
    if (ids) return json(c.q.get_stuff_ids(*ids));
    if (filter && !filter->empty())
        return json(c.q.get_stuff_like(*filter));
    return json(c.q.get_stuff_all());
}

static Response post_stuff(Context& c, std::string stuff) {
    int64_t sid = c.q.add_stuff(stuff);
    return json(object{{"sid", sid}}, 201);
}

[[noreturn]] static void no_such_stuff(int64_t sid) {
    throw HttpError(404, "no such stuff: " + std::to_string(sid));
}

static Response get_stuff_sid(Context& c, int64_t sid) {
    auto stuff = c.q.get_stuff_sid(sid);
    if (!stuff) no_such_stuff(sid);
    return json(*stuff);
}

/// The thing as GET /stuff/<sid> answers it, row locked: what If-Match compares with.
static std::optional<Response> current_stuff(Context& c) {
    auto stuff = c.q.lock_stuff_sid(c.params.get<int64_t>("sid"));
    if (!stuff) return std::nullopt;
    return json(*stuff);
}

static Response put_stuff_sid(Context& c, int64_t sid, std::string stuff) {
    if (c.q.upd_stuff_sid(stuff, sid) == 0) no_such_stuff(sid);
    return no_content();
}

/// A dashboard's figure: with db_replica configured a standby answers it (the queries file
/// says so), which may be a fraction of a second behind the last writes.
static Response get_stats(Context& c) {
    return json(object{{"stuff", c.q.count_stuff()}});
}

static Response delete_stuff_sid(Context& c, int64_t sid) {
    if (c.q.del_stuff_sid(sid) == 0) no_such_stuff(sid);
    return no_content();
}

void stuff(Routes r) {
    r.get("/stuff", OPEN, get_stuff, maybe<std::string>("filter"),
          maybe<std::vector<int64_t>>("ids"), keyset_page())
        .returns_list<StuffRow>();
    r.post("/stuff", OPEN, post_stuff, param<std::string>("stuff"))
        .returns(201, R"({"type":"object","properties":{"sid":{"type":"integer"}},"required":["sid"]})");
    r.get("/stuff/<sid:int>", OPEN, get_stuff_sid, param<int64_t>("sid")).returns<StuffRow>();
    r.route({"PUT", "PATCH"}, "/stuff/<sid:int>", OPEN, put_stuff_sid, param<int64_t>("sid"),
            param<std::string>("stuff"))
        .returns(204, "")
        .if_match(current_stuff);
    r.del("/stuff/<sid:int>", OPEN, delete_stuff_sid, param<int64_t>("sid"))
        .returns(204, "")
        .if_match(current_stuff);
    r.get("/stats", OPEN, get_stats)
        .returns(200, R"({"type":"object","properties":{"stuff":{"type":"integer"}},"required":["stuff"]})");
}

}  // namespace api
