#include "local_mesos/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mast::local {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "\"NaN\"";
  if (std::isinf(value)) return value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  std::string text(buf, ec == std::errc() ? end : buf);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

void PrintValue(const Message& message, const FieldDescriptor* field, int index, std::string* out);

void PrintMessage(const Message& message, std::string* out) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated() || reflection->HasField(message, field)) continue;
    if (field->has_default_value() && !field->options().deprecated()) fields.push_back(field);
  }
  std::sort(fields.begin(), fields.end(), [](const FieldDescriptor* a, const FieldDescriptor* b) {
    return a->number() < b->number();
  });
  out->push_back('{');
  bool first = true;
  for (const FieldDescriptor* field : fields) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, JsonQuote(field->name()), ":");
    if (field->is_map()) {
      out->push_back('{');
      int size = reflection->FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        const Message& entry = reflection->GetRepeatedMessage(message, field, i);
        const FieldDescriptor* key = entry.GetDescriptor()->FindFieldByNumber(1);
        const FieldDescriptor* value = entry.GetDescriptor()->FindFieldByNumber(2);
        if (i > 0) out->push_back(',');
        std::string key_text;
        PrintValue(entry, key, -1, &key_text);
        if (key_text.empty() || key_text.front() != '"') key_text = JsonQuote(key_text);
        absl::StrAppend(out, key_text, ":");
        PrintValue(entry, value, -1, out);
      }
      out->push_back('}');
    } else if (field->is_repeated()) {
      out->push_back('[');
      int size = reflection->FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        if (i > 0) out->push_back(',');
        PrintValue(message, field, i, out);
      }
      out->push_back(']');
    } else {
      PrintValue(message, field, -1, out);
    }
  }
  out->push_back('}');
}

// `index` < 0: a singular field.
void PrintValue(const Message& message, const FieldDescriptor* field, int index, std::string* out) {
  const Reflection* r = message.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(
          out, rep ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(
          out, rep ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(
          out, rep ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(
          out, rep ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      *out += FormatDouble(rep ? r->GetRepeatedDouble(message, field, index)
                               : r->GetDouble(message, field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      *out += FormatDouble(rep ? r->GetRepeatedFloat(message, field, index)
                               : r->GetFloat(message, field));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      *out += (rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field))
                  ? "true"
                  : "false";
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value =
          rep ? r->GetRepeatedEnum(message, field, index) : r->GetEnum(message, field);
      *out += JsonQuote(value->name());
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& value =
          rep ? r->GetRepeatedStringReference(message, field, index, &scratch)
              : r->GetStringReference(message, field, &scratch);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        *out += JsonQuote(absl::Base64Escape(value));
      } else {
        *out += JsonQuote(value);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      PrintMessage(
          rep ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field), out);
      return;
  }
}

}  // namespace

std::string JsonQuote(absl::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_.push_back('}');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_.push_back(']');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(absl::string_view key) {
  BeforeValue();
  absl::StrAppend(&out_, JsonQuote(key), ":");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view value) {
  BeforeValue();
  out_ += JsonQuote(value);
  return *this;
}

JsonWriter& JsonWriter::Number(double value) {
  BeforeValue();
  out_ += FormatDouble(value);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  absl::StrAppend(&out_, value);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Raw(absl::string_view json) {
  BeforeValue();
  out_.append(json.data(), json.size());
  return *this;
}

std::string MesosJson(const google::protobuf::Message& message) {
  std::string out;
  PrintMessage(message, &out);
  return out;
}

namespace {

using google::protobuf::Value;

std::string KindName(const Value& value) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      return "null";
    case Value::kNumberValue:
      return "number";
    case Value::kStringValue:
      return "string";
    case Value::kBoolValue:
      return "boolean";
    case Value::kStructValue:
      return "object";
    case Value::kListValue:
      return "array";
    case Value::KIND_NOT_SET:
      break;
  }
  return "value";
}

absl::Status Unexpected(const Value& value, const FieldDescriptor* field) {
  return absl::InvalidArgumentError(
      absl::StrCat("Not expecting a JSON ", KindName(value), " for field '", field->name(), "'"));
}

template <typename T>
absl::StatusOr<T> ToInteger(const Value& value, const FieldDescriptor* field) {
  if (value.kind_case() == Value::kStringValue) {
    T out;
    if (absl::SimpleAtoi(value.string_value(), &out)) return out;
    return absl::InvalidArgumentError(absl::StrCat("Failed to convert '", value.string_value(),
                                                   "' to an integer for field '", field->name(),
                                                   "'"));
  }
  if (value.kind_case() != Value::kNumberValue) return Unexpected(value, field);
  const double d = value.number_value();
  if (d != std::floor(d) || d < static_cast<double>(std::numeric_limits<T>::lowest()) ||
      d > static_cast<double>(std::numeric_limits<T>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Number ", d, " is not a valid integer for field '", field->name(), "'"));
  }
  return static_cast<T>(d);
}

absl::StatusOr<double> ToDouble(const Value& value, const FieldDescriptor* field) {
  if (value.kind_case() == Value::kNumberValue) return value.number_value();
  if (value.kind_case() == Value::kStringValue) {
    const std::string& text = value.string_value();
    if (text == "Infinity") return std::numeric_limits<double>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    double out;
    if (absl::SimpleAtod(text, &out)) return out;
  }
  return Unexpected(value, field);
}

absl::Status FromJson(const Value& json, Message* message);

// Sets (or, for a repeated field, adds) one value of `field`. An enum name this build does not
// know leaves an optional field unset (OkStatus) and is an error elsewhere.
absl::Status SetValue(const Value& value, Message* message, const FieldDescriptor* field) {
  const Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      absl::StatusOr<int32_t> v = ToInteger<int32_t>(value, field);
      if (!v.ok()) return v.status();
      rep ? r->AddInt32(message, field, *v) : r->SetInt32(message, field, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      absl::StatusOr<int64_t> v = ToInteger<int64_t>(value, field);
      if (!v.ok()) return v.status();
      rep ? r->AddInt64(message, field, *v) : r->SetInt64(message, field, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      absl::StatusOr<uint32_t> v = ToInteger<uint32_t>(value, field);
      if (!v.ok()) return v.status();
      rep ? r->AddUInt32(message, field, *v) : r->SetUInt32(message, field, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      absl::StatusOr<uint64_t> v = ToInteger<uint64_t>(value, field);
      if (!v.ok()) return v.status();
      rep ? r->AddUInt64(message, field, *v) : r->SetUInt64(message, field, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      absl::StatusOr<double> v = ToDouble(value, field);
      if (!v.ok()) return v.status();
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(message, field, *v) : r->SetDouble(message, field, *v);
      } else {
        const float f = static_cast<float>(*v);
        rep ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (value.kind_case() != Value::kBoolValue) return Unexpected(value, field);
      rep ? r->AddBool(message, field, value.bool_value())
          : r->SetBool(message, field, value.bool_value());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (value.kind_case() != Value::kStringValue) return Unexpected(value, field);
      const auto* enum_value = field->enum_type()->FindValueByName(value.string_value());
      if (enum_value == nullptr) {
        if (field->is_optional()) return absl::OkStatus();
        return absl::InvalidArgumentError(absl::StrCat(
            "Failed to find enum for '", value.string_value(), "' of field '", field->name(), "'"));
      }
      rep ? r->AddEnum(message, field, enum_value) : r->SetEnum(message, field, enum_value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (value.kind_case() != Value::kStringValue) return Unexpected(value, field);
      std::string text = value.string_value();
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        std::string decoded;
        if (!absl::Base64Unescape(text, &decoded) && !absl::WebSafeBase64Unescape(text, &decoded)) {
          return absl::InvalidArgumentError(
              absl::StrCat("Failed to base64-decode field '", field->name(), "'"));
        }
        text = std::move(decoded);
      }
      rep ? r->AddString(message, field, std::move(text))
          : r->SetString(message, field, std::move(text));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = rep ? r->AddMessage(message, field) : r->MutableMessage(message, field);
      return FromJson(value, child);
    }
  }
  return absl::OkStatus();
}

absl::Status FromJson(const Value& json, Message* message) {
  if (json.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat("Expecting a JSON object for message '",
                                                   message->GetDescriptor()->name(),
                                                   "' but got a JSON ", KindName(json)));
  }
  const Descriptor* descriptor = message->GetDescriptor();
  for (const auto& [key, value] : json.struct_value().fields()) {
    // Exact proto field names only: other keys (camelCase included) are ignored, like Mesos.
    const FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr || value.kind_case() == Value::kNullValue) continue;
    if (field->is_map()) {
      if (value.kind_case() != Value::kStructValue) return Unexpected(value, field);
      for (const auto& [map_key, map_value] : value.struct_value().fields()) {
        Message* entry = message->GetReflection()->AddMessage(message, field);
        const FieldDescriptor* key_field = entry->GetDescriptor()->FindFieldByNumber(1);
        const FieldDescriptor* value_field = entry->GetDescriptor()->FindFieldByNumber(2);
        Value key_value;
        key_value.set_string_value(map_key);
        if (absl::Status s = SetValue(key_value, entry, key_field); !s.ok()) return s;
        if (absl::Status s = SetValue(map_value, entry, value_field); !s.ok()) return s;
      }
    } else if (field->is_repeated()) {
      if (value.kind_case() != Value::kListValue) return Unexpected(value, field);
      for (const Value& item : value.list_value().values()) {
        if (absl::Status s = SetValue(item, message, field); !s.ok()) return s;
      }
    } else if (absl::Status s = SetValue(value, message, field); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseMesosJson(absl::string_view json, google::protobuf::Message* message,
                            absl::string_view what) {
  Value parsed;
  // protobuf's JSON parser wants an object at the root; any other JSON value is wrapped so that
  // it is still told apart from a syntax error.
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(json);
  const bool object = !trimmed.empty() && trimmed.front() == '{';
  google::protobuf::Struct wrapper;
  auto status = object ? google::protobuf::util::JsonStringToMessage(std::string(json), &parsed)
                       : google::protobuf::util::JsonStringToMessage(
                             absl::StrCat("{\"v\":", json, "}"), &wrapper);
  if (!object && status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to convert JSON into ", what, " protobuf: Expecting a JSON object"));
  }
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to parse body into JSON: ",
                     std::string(status.message().data(), status.message().size())));
  }
  message->Clear();
  if (absl::Status converted = FromJson(parsed, message); !converted.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to convert JSON into ", what, " protobuf: ", converted.message()));
  }
  if (!message->IsInitialized()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to convert JSON into ", what,
                     " protobuf: Missing required fields: ", message->InitializationErrorString()));
  }
  return absl::OkStatus();
}

}  // namespace mast::local
