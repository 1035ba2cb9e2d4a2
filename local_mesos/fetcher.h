#pragma once

// The local master's stand-in for the Mesos fetcher: puts a task's
// CommandInfo.uris into its sandbox before the command starts, as an agent
// does (the file named by output_file or the URI's last path segment;
// executable files made so; archives extracted unless extract is false).
//
// Fetches absolute paths, file:// and http(s):// URIs (libcurl, 30 s per
// URI); the other schemes Mesos knows (hdfs, s3, ftp) are refused with
// UNIMPLEMENTED. `cache` is accepted and ignored (no fetcher cache).
// Extraction runs tar or unzip, as the Mesos fetcher does.
//
// Threads: blocking; the caller's. It is a development tool: an agent of
// the local master fetches on its control loop.

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "mesos/v1/mesos.pb.h"

namespace mast::local {

absl::Status FetchIntoSandbox(
    const google::protobuf::RepeatedPtrField<::mesos::v1::CommandInfo::URI>& uris,
    const std::string& sandbox);

// The name a URI's file gets in the sandbox without output_file: its last
// path segment (query and fragment dropped); "" when it names none.
std::string FetchedName(const std::string& uri);

}  // namespace mast::local
