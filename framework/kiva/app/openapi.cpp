#include "kiva/app/openapi.hpp"

#include <rapidjson/prettywriter.h>

#include <algorithm>
#include <map>

namespace kiva {

namespace {

using Pretty = rapidjson::PrettyWriter<js::StringOutput>;

/// Every error answer a route can give, with the {"error"} schema.
const std::pair<int, const char*> errors[] = {
    {400, "bad parameter or body"},
    {401, "authentication required or failed"},
    {403, "not allowed"},
    {404, "no such path or object"},
    {405, "method not allowed on this path"},
    {409, "conflict with existing data"},
    {413, "body too large"},
    {415, "unsupported body type"},
    {429, "too many requests"},
    {503, "database unavailable, retry"},
};

/// POSTs take an Idempotency-Key (kiva/app/idempotency.hpp).
constexpr const char* idempotency_key_parameter =
    R"({"name":"Idempotency-Key","in":"header","required":false,"description":"Runs the POST )"
    R"(at most once per client and key: a retry of the same request gets the first answer )"
    R"(again, with Idempotent-Replayed: true; another request with the key is a 422, a retry )"
    R"(while the first runs is a 409. Optionally in double quotes.","schema":{"type":"string",)"
    R"("minLength":1,"maxLength":257,"pattern":"^\"?[!#-\\[\\]-~]{1,255}\"?$"}})";
constexpr const char* idempotency_error =
    R"({"description":"this Idempotency-Key was used for another request","content":)"
    R"({"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}})";
/// The fields of a rate limit (draft-ietf-httpapi-ratelimit-headers-10), on a 429.
constexpr const char* rate_limit_headers =
    R"({"Retry-After":{"description":"seconds until the window ends","schema":{"type":"integer"}},)"
    R"("RateLimit-Policy":{"description":"the limit: \"default\";q=<requests>;w=<seconds>",)"
    R"("schema":{"type":"string"}},"RateLimit":{"description":"what remains: )"
    R"(\"default\";r=<requests>;t=<seconds until the window ends>","schema":{"type":"string"}}})";

void raw(Pretty& w, const std::string& json) {
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}
void key(Pretty& w, std::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void str(Pretty& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string segment_schema(PathSegment::Kind kind) {
    switch (kind) {
        case PathSegment::Kind::integer:
            return R"({"type":"integer","format":"int64"})";
        case PathSegment::Kind::number:
            return R"({"type":"number"})";
        case PathSegment::Kind::uuid:
            return R"({"type":"string","format":"uuid"})";
        case PathSegment::Kind::date:
            return R"({"type":"string","format":"date"})";
        case PathSegment::Kind::datetime:
            return R"({"type":"string","format":"date-time"})";
        default:
            return R"({"type":"string"})";
    }
}

/// "/stuff/<sid:int>" -> "/stuff/{sid}".
std::string openapi_path(const PathPattern& p) {
    std::string out;
    for (const auto& s : p.segments())
        out += "/" + (s.kind == PathSegment::Kind::literal ? s.text : "{" + s.text + "}");
    return out.empty() ? "/" : out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string operation_id(const std::string& method, const PathPattern& p) {
    std::string id = lower(method);
    for (const auto& s : p.segments()) {
        id += "_";
        for (char c : s.text) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    }
    return id;
}

const char* scheme_name(AuthScheme s) {
    switch (s) {
        case AuthScheme::basic:
            return "basic";
        case AuthScheme::token:
            return "bearer";
        case AuthScheme::param:
            return "param";
        case AuthScheme::httpd:
            return "httpd";
    }
    return "?";
}

void write_security(Pretty& w, const Authorize& a, const std::vector<AuthScheme>& schemes) {
    key(w, "security");
    w.StartArray();
    if (a.level() == Authorize::Level::open) {  // credentials optional
        w.StartObject();
        w.EndObject();
    }
    if (!a.closed())
        for (AuthScheme s : schemes) {
            if (s == AuthScheme::httpd) continue;  // the front end authenticates: not describable
            w.StartObject();
            key(w, scheme_name(s));
            w.StartArray();
            w.EndArray();
            if (s == AuthScheme::param) {  // USER and PASS together
                key(w, "param_pass");
                w.StartArray();
                w.EndArray();
            }
            w.EndObject();
        }
    w.EndArray();
}

/// The headers of a 200 answer to GET (kiva/app/caching.hpp, pagination.hpp), or "".
std::string success_headers(const RouteData& d, const std::string& method, int status) {
    if (method != "GET" || status != 200) return "";
    std::string h = R"J({"ETag":{"description":"strong validator of the body (SHA-256), for If-None-Match","schema":{"type":"string"}},)J"
                    R"J("Cache-Control":{"schema":{"type":"string"}})J";
    if (d.http.paged)
        h += R"J(,"Link":{"description":"<...>; rel=\"next\" (RFC 8288) while more rows exist","schema":{"type":"string"}})J";
    return h + "}";
}

void write_success(Pretty& w, const RouteData& d, const std::string& method) {
    if (d.returns.empty()) {
        key(w, method == "POST" ? "201" : "200");
        w.StartObject();
        key(w, "description");
        str(w, "success");
        if (auto h = success_headers(d, method, method == "POST" ? 201 : 200); !h.empty()) {
            key(w, "headers");
            raw(w, h);
        }
        key(w, "content");
        w.StartObject();
        key(w, "application/json");
        w.StartObject();
        key(w, "schema");
        raw(w, "{}");
        w.EndObject();
        w.EndObject();
        w.EndObject();
        return;
    }
    for (const auto& r : d.returns) {
        key(w, std::to_string(r.status));
        w.StartObject();
        key(w, "description");
        str(w, r.status == 204 ? "success, no content" : "success");
        if (auto h = success_headers(d, method, r.status); !h.empty()) {
            key(w, "headers");
            raw(w, h);
        }
        if (r.status != 204) {
            key(w, "content");
            w.StartObject();
            key(w, "application/json");
            w.StartObject();
            key(w, "schema");
            std::string schema = r.schema_name.empty()
                                     ? r.schema
                                     : R"({"$ref":"#/components/schemas/)" + r.schema_name + "\"}";
            raw(w, r.list ? R"({"type":"array","items":)" + schema + "}" : schema);
            w.EndObject();
            w.EndObject();
        }
        w.EndObject();
    }
}

void write_operation(Pretty& w, const RouteTable::Entry& e, const OpenApiInfo& info) {
    const RouteData& d = e.data;
    const Authorize& a = d.authorize;
    const auto& schemes = a.schemes().empty() ? info.default_schemes : a.schemes();
    std::string auth = describe_authorization(a);
    std::string accepted;
    for (AuthScheme s : schemes) {
        if (!accepted.empty()) accepted += ", ";
        accepted += scheme_name(s);
    }
    key(w, lower(e.method));
    w.StartObject();
    key(w, "operationId");
    str(w, operation_id(e.method, e.pattern));
    key(w, "summary");
    str(w, e.method + " " + e.pattern.text());
    key(w, "description");
    str(w, "Authorization: " + auth + (a.closed() ? "" : ". Accepted schemes: " + accepted) + ".");
    key(w, "x-kiva-authorization");
    str(w, auth);
    write_security(w, a, schemes);

    std::vector<const ParamDoc*> rest;
    key(w, "parameters");
    w.StartArray();
    for (const auto& s : e.pattern.segments()) {
        if (s.kind == PathSegment::Kind::literal) continue;
        w.StartObject();
        key(w, "name");
        str(w, s.text);
        key(w, "in");
        str(w, "path");
        key(w, "required");
        w.Bool(true);
        key(w, "schema");
        raw(w, segment_schema(s.kind));
        w.EndObject();
    }
    if (e.method == "POST") raw(w, idempotency_key_parameter);
    bool body = e.method == "POST" || e.method == "PUT" || e.method == "PATCH";
    for (const auto& p : d.docs) {
        bool in_path = false;
        for (const auto& s : e.pattern.segments()) in_path = in_path || (s.kind != PathSegment::Kind::literal && s.text == p.name);
        if (in_path) continue;
        if (body) {
            rest.push_back(&p);
            continue;
        }
        w.StartObject();
        key(w, "name");
        str(w, p.name);
        key(w, "in");
        str(w, "query");
        key(w, "required");
        w.Bool(p.required);
        key(w, "schema");
        std::string schema = p.schema;
        if (!p.fallback.empty()) schema = R"({"allOf":[)" + schema + R"(],"default":)" + p.fallback + "}";
        raw(w, schema);
        w.EndObject();
    }
    if (e.method == "GET")
        raw(w, R"J({"name":"If-None-Match","in":"header","required":false,"description":"ETags (or *): 304 when one matches (weak comparison)","schema":{"type":"string"}})J");
    if (d.http.current)
        raw(w, R"J({"name":"If-Match","in":"header","required":false,"description":"ETags from GET (or *): 412 unless one is the current one (strong comparison); nothing changes","schema":{"type":"string"}})J");
    w.EndArray();

    if (body && !rest.empty()) {
        std::string properties, required;
        for (const ParamDoc* p : rest) {
            std::string schema = p->schema;
            if (!p->fallback.empty())
                schema = R"({"allOf":[)" + schema + R"(],"default":)" + p->fallback + "}";
            if (!properties.empty()) properties += ',';
            properties += js::serialize(p->name);
            properties += ':';
            properties += schema;
            if (!p->required) continue;
            if (!required.empty()) required += ',';
            required += js::serialize(p->name);
        }
        std::string object = R"({"type":"object","properties":{)" + properties + "}" +
                             (required.empty() ? "" : R"(,"required":[)" + required + "]") + "}";
        key(w, "requestBody");
        w.StartObject();
        key(w, "required");
        w.Bool(!required.empty());
        key(w, "content");
        w.StartObject();
        for (const char* type : {"application/json", "application/x-www-form-urlencoded"}) {
            key(w, type);
            w.StartObject();
            key(w, "schema");
            raw(w, object);
            w.EndObject();
        }
        w.EndObject();
        w.EndObject();
    }

    key(w, "responses");
    w.StartObject();
    write_success(w, d, e.method);
    if (e.method == "GET") {
        key(w, "304");
        raw(w, R"J({"description":"not modified: If-None-Match matched; no body, the same ETag"})J");
    }
    if (d.http.current) {
        key(w, "412");
        raw(w, R"J({"description":"If-Match does not hold: the resource changed (or is gone); nothing changed","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}})J");
    }
    for (const auto& [status, what] : errors) {
        key(w, std::to_string(status));
        std::string ref = R"({"$ref":"#/components/responses/E)";
        ref += std::to_string(status);
        ref += "\"}";
        raw(w, ref);
    }
    if (e.method == "POST") {
        key(w, "422");
        raw(w, R"({"$ref":"#/components/responses/Idempotency"})");
    }
    w.EndObject();
    w.EndObject();
}

}  // namespace

std::string describe_authorization(const Authorize& a) {
    if (a.closed()) return "CLOSED";
    std::string s = a.level() == Authorize::Level::open ? "OPEN" : "AUTH";
    for (const auto& g : a.groups()) s += " group:" + g;
    for (const auto& o : a.objects()) s += " object:" + o.domain + "(" + o.param + ")";
    return s;
}

std::string openapi_document(const RouteTable& table, const OpenApiInfo& info) {
    std::map<std::string, std::vector<const RouteTable::Entry*>> paths;
    std::map<std::string, std::string> schemas;
    for (const auto& e : table.entries()) {
        paths[openapi_path(e.pattern)].push_back(&e);
        for (const auto& r : e.data.returns)
            if (!r.schema_name.empty()) schemas[r.schema_name] = r.schema;
    }
    std::string out;
    js::StringOutput stream{out};
    Pretty w(stream);
    w.SetIndent(' ', 2);
    w.StartObject();
    key(w, "openapi");
    str(w, "3.1.0");
    key(w, "info");
    w.StartObject();
    key(w, "title");
    str(w, info.title);
    key(w, "version");
    str(w, info.version);
    key(w, "description");
    str(w, "Every answer is JSON; every error is {\"error\": \"...\"} with its status.");
    w.EndObject();
    key(w, "servers");
    w.StartArray();
    w.StartObject();
    key(w, "url");
    str(w, info.server.empty() ? "/" : info.server);
    w.EndObject();
    w.EndArray();

    key(w, "paths");
    w.StartObject();
    for (const auto& [path, entries] : paths) {
        key(w, path);
        w.StartObject();
        for (const auto* e : entries) write_operation(w, *e, info);
        w.EndObject();
    }
    w.EndObject();

    key(w, "components");
    w.StartObject();
    key(w, "schemas");
    w.StartObject();
    key(w, "Error");
    raw(w, R"({"type":"object","properties":{"error":{"type":"string"}},"required":["error"]})");
    for (const auto& [name, schema] : schemas) {
        key(w, name);
        raw(w, schema);
    }
    w.EndObject();
    key(w, "responses");
    w.StartObject();
    for (const auto& [status, what] : errors) {
        std::string name = "E", answer = R"({"description":")";
        name += std::to_string(status);
        answer += what;
        answer += R"(","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}})";
        if (status == 429) {
            answer += R"(,"headers":)";
            answer += rate_limit_headers;
        }
        answer += '}';
        key(w, name);
        raw(w, answer);
    }
    key(w, "Idempotency");
    raw(w, idempotency_error);
    w.EndObject();
    key(w, "securitySchemes");
    w.StartObject();
    key(w, "basic");
    raw(w, R"({"type":"http","scheme":"basic"})");
    key(w, "bearer");
    raw(w, std::string(R"({"type":"http","scheme":"bearer","bearerFormat":")") +
               (info.token_type == "jwt" ? "JWT" : "kiva") + "\"}");
    key(w, "param");
    raw(w, R"({"type":"apiKey","in":"query","name":"USER","description":"with param_pass: the USER and PASS parameters"})");
    key(w, "param_pass");
    raw(w, R"({"type":"apiKey","in":"query","name":"PASS"})");
    w.EndObject();
    w.EndObject();
    w.EndObject();
    out.push_back('\n');
    return out;
}

}  // namespace kiva
