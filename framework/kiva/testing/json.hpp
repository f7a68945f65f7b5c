#pragma once
/// @file
/// A read-only view of a JSON answer, for assertions: `r.json()["stuff"] == "hello"`,
/// `r.json()[0]["iid"] == 1`, `r.json().size() == 3`. A missing key or index gives a null
/// view (so a chain never throws), printed as `<missing>` in a failed assertion.

#include <concepts>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace kiva::testing {

class Json {
  public:
    /// Parses text; a text that is not JSON gives a view for which valid() is false.
    explicit Json(std::string_view text);

    bool valid() const { return value_ != nullptr; }
    bool is_null() const { return !value_ || value_->IsNull(); }
    bool is_string() const { return value_ && value_->IsString(); }
    bool is_number() const { return value_ && value_->IsNumber(); }
    bool is_object() const { return value_ && value_->IsObject(); }
    bool is_array() const { return value_ && value_->IsArray(); }
    bool has(std::string_view key) const;

    Json operator[](std::string_view key) const;
    Json operator[](const char* key) const { return (*this)[std::string_view(key)]; }
    Json operator[](std::size_t index) const;
    Json operator[](int index) const { return (*this)[static_cast<std::size_t>(index)]; }
    /// The number of members of an object or elements of an array; 0 otherwise.
    std::size_t size() const;

    /// The value as C++, or std::logic_error when it is not of that type.
    std::string str() const;
    int64_t integer() const;
    double number() const;
    bool boolean() const;
    /// The value serialized again (compact).
    std::string text() const;

    friend bool operator==(const Json& j, std::string_view s) {
        return j.is_string() && j.str() == s;
    }
    friend bool operator==(const Json& j, const char* s) { return j == std::string_view(s); }
    friend bool operator==(const Json& j, const std::string& s) { return j == std::string_view(s); }
    friend bool operator==(const Json& j, bool b) {
        return j.value_ && j.value_->IsBool() && j.value_->GetBool() == b;
    }
    friend bool operator==(const Json& j, std::nullptr_t) { return j.value_ && j.value_->IsNull(); }
    friend bool operator==(const Json& j, double d) {
        return j.is_number() && j.value_->GetDouble() == d;
    }
    template <typename T>
    requires(std::integral<T> && !std::same_as<T, bool>) friend bool operator==(const Json& j,
                                                                                T n) {
        if (!j.value_) return false;
        if constexpr (std::is_signed_v<T>)
            return j.value_->IsInt64() && j.value_->GetInt64() == static_cast<int64_t>(n);
        else
            return j.value_->IsUint64() && j.value_->GetUint64() == static_cast<uint64_t>(n);
    }
    friend std::ostream& operator<<(std::ostream& out, const Json& j);

  private:
    Json(std::shared_ptr<const rapidjson::Document> doc, const rapidjson::Value* value)
        : doc_(std::move(doc)), value_(value) {}
    std::shared_ptr<const rapidjson::Document> doc_;
    const rapidjson::Value* value_ = nullptr;
};

}  // namespace kiva::testing
