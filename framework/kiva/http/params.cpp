#include "kiva/http/params.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_set>

#include "kiva/core/decode.hpp"
#include "kiva/http/router.hpp"

namespace kiva {

namespace {

/// Every string (and member name) of a parsed JSON value is UTF-8: RapidJSON 1.1 decodes a
/// lone low surrogate escape ("\udc00") into bytes that are not.
bool strings_are_utf8(const rapidjson::Value& v, int depth = 0) {
    if (depth > 200) return false;
    if (v.IsString()) return is_valid_utf8({v.GetString(), v.GetStringLength()});
    if (v.IsArray()) {
        for (const auto& item : v.GetArray())
            if (!strings_are_utf8(item, depth + 1)) return false;
    } else if (v.IsObject()) {
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
            if (!strings_are_utf8(it->name, depth + 1) || !strings_are_utf8(it->value, depth + 1))
                return false;
    }
    return true;
}

}  // namespace

void bad_parameter(std::string_view name, std::string_view what) {
    throw HttpError(400, "parameter \"" + std::string(name) + "\" must be " + std::string(what));
}

std::string ParamConverter<std::string>::convert(const ParamValue& p) {
    if (!p.json) {
        // Query and form values were checked when decoded; path segments come raw.
        if (!is_valid_utf8(p.text)) bad_parameter(p.name, "valid UTF-8");
        return p.text;
    }
    if (!p.json->IsString()) bad_parameter(p.name, "a string");
    return std::string(p.json->GetString(), p.json->GetStringLength());
}

int64_t ParamConverter<int64_t>::convert(const ParamValue& p) {
    int64_t n = 0;
    if (p.json) {
        if (!p.json->IsInt64()) bad_parameter(p.name, "an integer");
        return p.json->GetInt64();
    }
    if (!parse_int64(p.text, n)) bad_parameter(p.name, "an integer");
    return n;
}

int ParamConverter<int>::convert(const ParamValue& p) {
    int64_t n = ParamConverter<int64_t>::convert(p);
    if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max())
        bad_parameter(p.name, "a 32-bit integer");
    return static_cast<int>(n);
}

double ParamConverter<double>::convert(const ParamValue& p) {
    double d = 0;
    if (p.json) {
        if (!p.json->IsNumber()) bad_parameter(p.name, "a number");
        return p.json->GetDouble();
    }
    if (!parse_double(p.text, d)) bad_parameter(p.name, "a number");
    return d;
}

bool ParamConverter<bool>::convert(const ParamValue& p) {
    if (p.json) {
        if (!p.json->IsBool()) bad_parameter(p.name, "a boolean");
        return p.json->GetBool();
    }
    std::string t = p.text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    bad_parameter(p.name, "a boolean (true or false)");
}

Json ParamConverter<Json>::convert(const ParamValue& p) {
    if (p.json) return Json(*p.json);
    // A JSON parameter sent as text (a form field or query string) is parsed.
    rapidjson::Document doc;
    doc.Parse(p.text.data(), p.text.size());  // the text was checked to be UTF-8 when decoded
    if (doc.HasParseError() || !is_valid_utf8(p.text) || !strings_are_utf8(doc))
        bad_parameter(p.name, "valid JSON");
    return Json(doc);
}

namespace {
std::string_view text_of(const ParamValue& p, std::string_view what) {
    if (!p.json) return p.text;
    if (!p.json->IsString()) bad_parameter(p.name, what);
    return {p.json->GetString(), p.json->GetStringLength()};
}
}  // namespace

Date ParamConverter<Date>::convert(const ParamValue& p) {
    auto d = Date::parse(text_of(p, "a date (YYYY-MM-DD)"));
    if (!d) bad_parameter(p.name, "a date (YYYY-MM-DD)");
    return *d;
}

DateTime ParamConverter<DateTime>::convert(const ParamValue& p) {
    constexpr std::string_view what = "a date and time (YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|+HH:MM])";
    auto t = DateTime::parse(text_of(p, what));
    if (!t) bad_parameter(p.name, what);
    return *t;
}

Uuid ParamConverter<Uuid>::convert(const ParamValue& p) {
    auto u = Uuid::parse(text_of(p, "a UUID"));
    if (!u) bad_parameter(p.name, "a UUID");
    return *u;
}

Params::Params(const Request& request, const Captures& captures) : request_(request) {
    for (const auto& [name, text] : captures) add(std::string(name), std::string(text), 0);
}

void Params::add(std::string name, std::string text, int source, const rapidjson::Value* json) {
    // Every value is kept in order of source (path, query string, body): find() gives the
    // first, all() the repeated values of the first source that has the name.
    values_.push_back(ParamValue{std::move(name), std::move(text), json, source});
}

std::vector<const ParamValue*> Params::all(std::string_view name) {
    const ParamValue* first = find(name);
    std::vector<const ParamValue*> out;
    if (!first) return out;
    for (const auto& v : values_)
        if (v.name == name && v.source == first->source) out.push_back(&v);
    return out;
}

const ParamValue* Params::find(std::string_view name) {
    for (const auto& v : values_)
        if (v.name == name) return &v;
    if (loaded_) return nullptr;
    load();
    for (const auto& v : values_)
        if (v.name == name) return &v;
    return nullptr;
}

std::vector<std::string_view> Params::names() {
    load();
    std::vector<std::string_view> out;
    out.reserve(values_.size());
    std::unordered_set<std::string_view> seen;  // repeated names once (a list parameter)
    for (const auto& v : values_)
        if (seen.insert(v.name).second) out.push_back(v.name);
    return out;
}

void Params::load() {
    if (loaded_) return;
    loaded_ = true;
    bool bad_utf8 = false;
    parse_urlencoded(request_.query(), [&](std::string name, std::string value) {
        if (!is_valid_utf8(name) || !is_valid_utf8(value)) bad_utf8 = true;
        add(std::move(name), std::move(value), 1);
    });
    if (bad_utf8) throw HttpError(400, "query string is not valid UTF-8");
    load_body();
}

void Params::load_body() {
    const std::string& body = request_.body();
    if (body.empty()) return;
    std::string type(request_.content_type().substr(0, request_.content_type().find(';')));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    bool is_json = type == "application/json" ||
                   (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
    if (is_json) {
        // UTF-8 is checked here: RapidJSON 1.1's own check reads past the end of a cut character.
        if (!is_valid_utf8(body)) throw HttpError(400, "JSON body is not valid UTF-8");
        body_json_.Parse(body.data(), body.size());
        if (body_json_.HasParseError()) {
            throw HttpError(400, std::string("invalid JSON body: ") +
                                     rapidjson::GetParseError_En(body_json_.GetParseError()) +
                                     " (at byte " + std::to_string(body_json_.GetErrorOffset()) +
                                     ")");
        }
        if (!body_json_.IsObject()) throw HttpError(400, "JSON body must be an object");
        if (!strings_are_utf8(body_json_)) throw HttpError(400, "JSON body is not valid UTF-8");
        const rapidjson::Value& object = body_json_;  // const iterators: no C++20 ambiguity
        for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it)
            add(std::string(it->name.GetString(), it->name.GetStringLength()), {}, 2, &it->value);
        return;
    }
    // curl -d sends application/x-www-form-urlencoded, also with GET; no type is read alike.
    if (type.empty() || type == "application/x-www-form-urlencoded") {
        bool bad_utf8 = false;
        parse_urlencoded(body, [&](std::string name, std::string value) {
            if (!is_valid_utf8(name) || !is_valid_utf8(value)) bad_utf8 = true;
            add(std::move(name), std::move(value), 2);
        });
        if (bad_utf8) throw HttpError(400, "form body is not valid UTF-8");
        return;
    }
    throw HttpError(415, "unsupported content type \"" + type +
                             "\": send application/json or application/x-www-form-urlencoded");
}

}  // namespace kiva
