// libFuzzer target: the RecordIO decoder on arbitrary bytes, fed in arbitrary
// pieces. Properties: no crash, no unbounded buffering, and whatever it
// accepts re-encodes to a stream that decodes to the same records.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "scheduler/mesos/recordio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses the piece size, so splits vary with the input.
  size_t piece = 1 + data[0] % 64;
  absl::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  mast::mesos::RecordIoDecoder decoder(/*max_record_bytes=*/4096);
  std::vector<std::string> records;
  bool ok = true;
  for (size_t i = 0; i < input.size() && ok; i += piece) {
    ok = decoder.Feed(input.substr(i, piece), &records).ok();
    if (decoder.pending_bytes() > 4096 + 32) std::abort();  // bounded buffering
  }
  std::string again;
  for (const std::string& r : records) again += mast::mesos::RecordIoEncode(r);
  mast::mesos::RecordIoDecoder second;
  std::vector<std::string> decoded;
  if (!second.Feed(again, &decoded).ok() || decoded != records || !second.Finish().ok()) {
    std::abort();
  }
  return 0;
}
