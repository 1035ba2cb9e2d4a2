// libFuzzer target: event decoding (protobuf and JSON) on arbitrary bytes.
// Properties: no crash; whatever decodes re-encodes to bytes that decode to
// the same event.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scheduler/mesos/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool json : {false, true}) {
    auto event = mast::mesos::DecodeEvent(input, json);
    if (!event.ok()) continue;
    std::string again = event->SerializeAsString();
    auto second = mast::mesos::DecodeEvent(again, false);
    if (!second.ok() || second->SerializeAsString() != again) std::abort();
  }
  return 0;
}
