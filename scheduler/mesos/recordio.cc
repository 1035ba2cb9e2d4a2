#include "scheduler/mesos/recordio.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mast::mesos {

RecordIoDecoder::RecordIoDecoder(size_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}

absl::Status RecordIoDecoder::Feed(absl::string_view data, std::vector<std::string>* records) {
  if (!status_.ok()) return status_;
  size_t i = 0;
  while (i < data.size()) {
    if (reading_length_) {
      char c = data[i++];
      if (c == '\n') {
        if (length_digits_ == 0) continue;  // an empty line before a length
        reading_length_ = false;
        data_.clear();
        if (length_ == 0) {
          records->emplace_back();
          reading_length_ = true;
          length_digits_ = 0;
        } else {
          data_.reserve(length_);
        }
        continue;
      }
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        status_ = absl::DataLossError(absl::StrCat("recordio: unexpected byte 0x",
                                                   absl::Hex(static_cast<unsigned char>(c)),
                                                   " in a record length"));
        return status_;
      }
      size_t digit = static_cast<size_t>(c - '0');
      if (length_ > (max_record_bytes_ - digit) / 10) {
        status_ = absl::DataLossError(absl::StrCat("recordio: record length over the limit of ",
                                                   max_record_bytes_, " bytes"));
        return status_;
      }
      length_ = length_ * 10 + digit;
      ++length_digits_;
      continue;
    }
    size_t take = std::min(length_ - data_.size(), data.size() - i);
    data_.append(data.data() + i, take);
    i += take;
    if (data_.size() == length_) {
      records->push_back(std::move(data_));
      data_ = std::string();
      reading_length_ = true;
      length_digits_ = 0;
      length_ = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status RecordIoDecoder::Finish() const {
  if (!status_.ok()) return status_;
  if (!reading_length_ || length_digits_ > 0) {
    return absl::DataLossError(absl::StrCat("recordio: stream ended inside a record (",
                                            reading_length_ ? length_digits_ : data_.size(),
                                            " bytes pending)"));
  }
  return absl::OkStatus();
}

std::string RecordIoEncode(absl::string_view record) {
  return absl::StrCat(record.size(), "\n", record);
}

}  // namespace mast::mesos
