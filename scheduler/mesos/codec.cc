#include "scheduler/mesos/codec.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace mast::mesos {

absl::StatusOr<::mesos::v1::scheduler::Event> DecodeEvent(absl::string_view record, bool json) {
  ::mesos::v1::scheduler::Event event;
  if (json) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(record.data(), record.size()), &event, options);
    if (!status.ok()) {
      return absl::DataLossError(
          absl::StrCat("undecodable JSON event: ", status.message().ToString()));
    }
    return event;
  }
  if (!event.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::DataLossError("undecodable protobuf event");
  }
  return event;
}

std::string EncodeCall(const ::mesos::v1::scheduler::Call& call, bool json) {
  std::string out;
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(call, &out, options);
  } else {
    call.SerializeToString(&out);
  }
  return out;
}

}  // namespace mast::mesos
