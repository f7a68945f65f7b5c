#pragma once
/// @file
/// The JSON Schema of a parameter type, for the OpenAPI document (openapi.hpp):
/// `schema_of<int64_t>()` is {"type":"integer","format":"int64"}. An application type may
/// give its own with `static constexpr std::string_view json_schema`; others are any JSON.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/http/params.hpp"
#include "kiva/core/values.hpp"

namespace kiva {

template <typename T>
std::string schema_of() {
    if constexpr (std::is_same_v<T, int64_t>)
        return R"({"type":"integer","format":"int64"})";
    else if constexpr (std::is_same_v<T, int>)
        return R"({"type":"integer","format":"int32"})";
    else if constexpr (std::is_same_v<T, double>)
        return R"({"type":"number","format":"double"})";
    else if constexpr (std::is_same_v<T, bool>)
        return R"({"type":"boolean"})";
    else if constexpr (std::is_same_v<T, std::string>)
        return R"({"type":"string"})";
    else if constexpr (std::is_same_v<T, Date>)
        return R"({"type":"string","format":"date"})";
    else if constexpr (std::is_same_v<T, DateTime>)
        return R"({"type":"string","format":"date-time"})";
    else if constexpr (std::is_same_v<T, Uuid>)
        return R"({"type":"string","format":"uuid"})";
    else if constexpr (is_param_list<T>::value)
        return R"({"type":"array","items":)" + schema_of<typename T::value_type>() + "}";
    else if constexpr (requires { T::json_schema; })
        return std::string(T::json_schema);
    else
        return "{}";  // Json, or an application type: any JSON value
}

/// The JSON text of a default value, or "" when it has none that JSON can show.
template <typename T>
std::string default_text(const T& value) {
    if constexpr (requires(js::Writer& w) { write(w, value); })
        return js::serialize(value);
    else
        return "";
}

}  // namespace kiva
