#include "kiva/testing/json.hpp"

#include <ostream>
#include <stdexcept>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kiva::testing {

Json::Json(std::string_view text) {
    auto doc = std::make_shared<rapidjson::Document>();
    doc->Parse(text.data(), text.size());
    if (doc->HasParseError()) return;
    value_ = doc.get();
    doc_ = std::move(doc);
}

bool Json::has(std::string_view key) const {
    return is_object() &&
           value_->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size()))) !=
               value_->MemberEnd();
}

Json Json::operator[](std::string_view key) const {
    if (!is_object()) return Json(doc_, nullptr);
    auto m = value_->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
    return Json(doc_, m == value_->MemberEnd() ? nullptr : &m->value);
}

Json Json::operator[](std::size_t index) const {
    if (!is_array() || index >= value_->Size()) return Json(doc_, nullptr);
    return Json(doc_, &(*value_)[static_cast<rapidjson::SizeType>(index)]);
}

std::size_t Json::size() const {
    if (is_object()) return value_->MemberCount();
    if (is_array()) return value_->Size();
    return 0;
}

std::string Json::str() const {
    if (!is_string()) throw std::logic_error("not a JSON string: " + text());
    return std::string(value_->GetString(), value_->GetStringLength());
}

int64_t Json::integer() const {
    if (!value_ || !value_->IsInt64()) throw std::logic_error("not a JSON integer: " + text());
    return value_->GetInt64();
}

double Json::number() const {
    if (!is_number()) throw std::logic_error("not a JSON number: " + text());
    return value_->GetDouble();
}

bool Json::boolean() const {
    if (!value_ || !value_->IsBool()) throw std::logic_error("not a JSON boolean: " + text());
    return value_->GetBool();
}

std::string Json::text() const {
    if (!value_) return "<missing>";
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value_->Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::ostream& operator<<(std::ostream& out, const Json& j) {
    return out << j.text();
}

}  // namespace kiva::testing
