#pragma once
/// @file
/// JSON output with RapidJSON: `write(writer, value)` overloads, found by ADL for
/// application types (database rows write themselves), and `object{...}` for ad hoc objects.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/writer.h>

namespace kiva::js {

/// A RapidJSON output stream appending to a std::string (no intermediate buffer).
struct StringOutput {
    using Ch = char;
    std::string& out;
    void Put(char c) { out.push_back(c); }
    void Flush() {}
};

using Writer = rapidjson::Writer<StringOutput>;

/// Already serialized JSON, inserted as is.
struct Raw {
    std::string_view text;
};

inline void write(Writer& w, std::nullptr_t) {
    w.Null();
}
inline void write(Writer& w, bool b) {
    w.Bool(b);
}
inline void write(Writer& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void write(Writer& w, const char* s) {
    write(w, std::string_view(s));
}
inline void write(Writer& w, const std::string& s) {
    write(w, std::string_view(s));
}
void write(Writer& w, double d);  // non-finite numbers are written as null
inline void write(Writer& w, const Raw& raw) {
    w.RawValue(raw.text.data(), raw.text.size(), rapidjson::kObjectType);
}

template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void write(Writer& w, T n) {
    if constexpr (std::is_signed_v<T>)
        w.Int64(static_cast<int64_t>(n));
    else
        w.Uint64(static_cast<uint64_t>(n));
}

template <typename T>
void write(Writer& w, const std::optional<T>& v) {
    if (v)
        write(w, *v);
    else
        w.Null();
}

template <typename T>
void write(Writer& w, const std::vector<T>& list) {
    w.StartArray();
    for (const auto& item : list) write(w, item);
    w.EndArray();
}

/// A reference to any writable value; lives only as long as the full expression that made it.
/// Strings are held by view, so that `{"app", "kiva"}` needs no conversion.
class Field {
  public:
    template <typename T>
    Field(const T& value)  // NOLINT(google-explicit-constructor): meant to convert
        : value_(&value),
          write_([](Writer& w, const void* p) { write(w, *static_cast<const T*>(p)); }) {}
    Field(const char* s) : text_(s) {}         // NOLINT
    Field(std::string_view s) : text_(s) {}    // NOLINT
    Field(const std::string& s) : text_(s) {}  // NOLINT

    void operator()(Writer& w) const {
        if (write_)
            write_(w, value_);
        else
            write(w, text_);
    }

  private:
    std::string_view text_;
    const void* value_ = nullptr;
    void (*write_)(Writer&, const void*) = nullptr;
};

/// An ad hoc JSON object, e.g. `json(object{{"sid", sid}}, 201)`.
/// It refers to its values: build and serialize it in the same expression.
class object {
  public:
    object(std::initializer_list<std::pair<std::string_view, Field>> fields) : fields_(fields) {}
    friend void write(Writer& w, const object& o) {
        w.StartObject();
        for (const auto& [name, field] : o.fields_) {
            write(w, name);
            field(w);
        }
        w.EndObject();
    }

  private:
    std::vector<std::pair<std::string_view, Field>> fields_;
};

/// Appends the JSON text of value to out.
template <typename T>
void append(std::string& out, const T& value) {
    StringOutput stream{out};
    Writer w(stream);
    write(w, value);
}

/// The JSON text of value.
template <typename T>
std::string serialize(const T& value) {
    std::string out;
    append(out, value);
    return out;
}

}  // namespace kiva::js

namespace kiva {
using js::object;
}
