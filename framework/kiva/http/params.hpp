#pragma once
/// @file
/// Params: the request's parameters merged by name from typed path segments, the query
/// string, a form body and a JSON object body, with typed access and 400 errors naming
/// the parameter. Bodies are parsed on first use, after authentication.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "kiva/http/http_error.hpp"
#include "kiva/core/json.hpp"
#include "kiva/http/request.hpp"
#include "kiva/core/values.hpp"

namespace kiva {

/// A JSON value owned by the handler that receives it (type of JSON parameters).
class Json {
  public:
    Json() = default;
    explicit Json(const rapidjson::Value& value) { doc_.CopyFrom(value, doc_.GetAllocator()); }
    Json(const Json& other) { doc_.CopyFrom(other.doc_, doc_.GetAllocator()); }
    Json(Json&&) = default;
    Json& operator=(Json other) {
        doc_.Swap(other.doc_);
        return *this;
    }
    const rapidjson::Value& value() const { return doc_; }
    const rapidjson::Value* operator->() const { return &doc_; }
    friend void write(js::Writer& w, const Json& j) { j.doc_.Accept(w); }

  private:
    rapidjson::Document doc_;
};

/// One raw parameter: text (path, query, form) or a JSON value (JSON body).
struct ParamValue {
    std::string name;
    std::string text;
    const rapidjson::Value* json = nullptr;  ///< into the Params' document
    int source = 0;                          ///< 0 path, 1 query string, 2 body
};

/// How a parameter converts to T; specialize it for an application type
/// (or give the type `static T from_param(const ParamValue&)`).
template <typename T>
struct ParamConverter {
    static T convert(const ParamValue& p) { return T::from_param(p); }
};
template <>
struct ParamConverter<std::string> {
    static std::string convert(const ParamValue&);
};
template <>
struct ParamConverter<int64_t> {
    static int64_t convert(const ParamValue&);
};
template <>
struct ParamConverter<int> {
    static int convert(const ParamValue&);
};
template <>
struct ParamConverter<double> {
    static double convert(const ParamValue&);
};
template <>
struct ParamConverter<bool> {
    static bool convert(const ParamValue&);
};
template <>
struct ParamConverter<Json> {
    static Json convert(const ParamValue&);
};
template <>
struct ParamConverter<Date> {
    static Date convert(const ParamValue&);
};
template <>
struct ParamConverter<DateTime> {
    static DateTime convert(const ParamValue&);
};
template <>
struct ParamConverter<Uuid> {
    static Uuid convert(const ParamValue&);
};

/// std::vector<T> parameters: a list from repeated fields (`?ids=1&ids=2`) or a JSON array.
template <typename T>
struct is_param_list : std::false_type {};
template <typename T>
struct is_param_list<std::vector<T>> : std::true_type {};

/// 400 `parameter "name" must be <what>`.
[[noreturn]] void bad_parameter(std::string_view name, std::string_view what);

class Params {
  public:
    using Captures = std::vector<std::pair<std::string_view, std::string_view>>;

    /// Path captures are known at once; the query string and body are decoded on first use.
    Params(const Request& request, const Captures& captures);
    Params(const Params&) = delete;
    Params& operator=(const Params&) = delete;

    /// The raw parameter, or null. Throws HttpError(400/415) when the body cannot be decoded.
    const ParamValue* find(std::string_view name);

    /// A required parameter: 400 `parameter "name" is missing` when absent.
    template <typename T>
    T get(std::string_view name) {
        if constexpr (is_param_list<T>::value) {
            auto list = maybe<T>(name);
            if (!list) missing(name);
            return std::move(*list);
        } else {
            const ParamValue* p = find(name);
            if (!p) missing(name);
            return ParamConverter<T>::convert(*p);
        }
    }

    template <typename T>
    std::optional<T> maybe(std::string_view name) {
        if constexpr (is_param_list<T>::value) {
            return list<typename T::value_type>(name);
        } else {
            const ParamValue* p = find(name);
            if (!p || is_null(*p)) return std::nullopt;
            return ParamConverter<T>::convert(*p);
        }
    }

    /// Every value of a parameter sent several times in its first source (the path wins, then
    /// the query string, then the body), or the items of a JSON array; nullopt when absent.
    template <typename T>
    std::optional<std::vector<T>> list(std::string_view name) {
        std::vector<const ParamValue*> values = all(name);
        if (values.empty() || (values.size() == 1 && is_null(*values[0]))) return std::nullopt;
        std::vector<T> out;
        if (values.size() == 1 && values[0]->json && values[0]->json->IsArray()) {
            const rapidjson::Value& items = *values[0]->json;
            for (rapidjson::SizeType i = 0; i < items.Size(); ++i)
                out.push_back(ParamConverter<T>::convert(ParamValue{values[0]->name, {}, &items[i]}));
            return out;
        }
        for (const ParamValue* p : values) out.push_back(ParamConverter<T>::convert(*p));
        return out;
    }

    /// The values of name in its first source (see list()).
    std::vector<const ParamValue*> all(std::string_view name);

    template <typename T>
    T get_or(std::string_view name, T fallback) {
        auto v = maybe<T>(name);
        return v ? std::move(*v) : std::move(fallback);
    }

    /// The names of all parameters sent (decoding the body if needed).
    std::vector<std::string_view> names();

    /// Decodes the query string and body now (400/415 on bad input).
    void load();

  private:
    static bool is_null(const ParamValue& p) { return p.json && p.json->IsNull(); }
    [[noreturn]] static void missing(std::string_view name) {
        throw HttpError(400, "parameter \"" + std::string(name) + "\" is missing");
    }
    void add(std::string name, std::string text, int source,
             const rapidjson::Value* json = nullptr);
    void load_body();

    const Request& request_;
    std::vector<ParamValue> values_;
    rapidjson::Document body_json_;
    bool loaded_ = false;
};

}  // namespace kiva
