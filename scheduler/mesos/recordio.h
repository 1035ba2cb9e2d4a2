#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mast::mesos {

// Incremental decoder of the RecordIO framing of the Mesos v1 event stream:
//   stream = *record ; record = length "\n" data ; length = 1*DIGIT
// (mesos-v1-api.md §1.2). Records may be split across reads at any byte.
// A malformed stream (a non-digit in a length, a length over the limit) is a
// stream error: Feed() returns DATA_LOSS and the decoder stays failed, so
// the caller drops the connection. Empty lines before a length are skipped.
// Not thread-safe; no I/O.
class RecordIoDecoder {
 public:
  static constexpr size_t kDefaultMaxRecordBytes = 64 << 20;

  explicit RecordIoDecoder(size_t max_record_bytes = kDefaultMaxRecordBytes);

  // Consumes `data`; appends every record it completes to `records`.
  absl::Status Feed(absl::string_view data, std::vector<std::string>* records);
  // At end of stream: DATA_LOSS if a record was cut off, else OK.
  absl::Status Finish() const;

  bool failed() const { return !status_.ok(); }
  // Bytes of the record being received (length digits or data).
  size_t pending_bytes() const { return reading_length_ ? length_digits_ : data_.size(); }

 private:
  const size_t max_record_bytes_;
  absl::Status status_;
  bool reading_length_ = true;
  size_t length_digits_ = 0;
  size_t length_ = 0;
  std::string data_;
};

// Frames one record.
std::string RecordIoEncode(absl::string_view record);

}  // namespace mast::mesos
