#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace mast::mesos {

// The two encodings of the v1 scheduler API (mesos-v1-api.md §7): binary
// protobuf, or JSON with the exact proto field names and enum names. No I/O.

// Decodes one event record. DATA_LOSS for bytes that are no Event (the
// caller treats it as a stream error); unknown JSON keys are ignored, as
// Mesos itself does.
absl::StatusOr<::mesos::v1::scheduler::Event> DecodeEvent(absl::string_view record, bool json);

// Encodes a call body (not RecordIO-framed).
std::string EncodeCall(const ::mesos::v1::scheduler::Call& call, bool json);

// The media type of an encoding.
inline const char* MediaType(bool json) {
  return json ? "application/json" : "application/x-protobuf";
}

}  // namespace mast::mesos
