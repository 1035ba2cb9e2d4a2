#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace mast::local {

// A small streaming JSON writer for the state endpoints. Commas and nesting are tracked; the
// caller pairs Begin/End and gives a Key() before every value inside an object. Not thread-safe.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Number(double value);  // integral values keep a ".0", like Mesos
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // A value that is already JSON text.
  JsonWriter& Raw(absl::string_view json);
  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// `value` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view value);

// `message` in Mesos' JSON form (stout's protobuf-to-JSON): exact proto field names, enums by
// name, bytes in standard base64, 64-bit integers as numbers, maps as objects, doubles with
// "Infinity"/"-Infinity"/"NaN" as strings, and unset fields that have an explicit proto default
// (unless deprecated) written with that default.
std::string MesosJson(const google::protobuf::Message& message);

// Parses a request body in Mesos' JSON form into `message`: unknown keys ignored, enum names,
// base64 bytes, numbers or numeric strings. Errors are worded like the real master's:
// "Failed to parse body into JSON: ..." (syntax) and "Failed to convert JSON into Call
// protobuf: Missing required fields: ..." (`what` names the message type).
absl::Status ParseMesosJson(absl::string_view json, google::protobuf::Message* message,
                            absl::string_view what);

}  // namespace mast::local
