#include "local_mesos/fetcher.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace mast::local {

namespace {

namespace fs = std::filesystem;

size_t WriteToFile(char* data, size_t size, size_t count, void* file) {
  return std::fwrite(data, size, count, static_cast<FILE*>(file)) * size;
}

absl::Status HttpGet(const std::string& uri, const fs::path& to) {
  FILE* out = std::fopen(to.c_str(), "wb");
  if (out == nullptr) return absl::InternalError(absl::StrCat("cannot write ", to.string()));
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fclose(out);
    return absl::InternalError("curl_easy_init failed");
  }
  curl_easy_setopt(curl, CURLOPT_URL, uri.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteToFile);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  std::fclose(out);
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("failed to fetch ", uri, ": ", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

// Runs `argv` (found on PATH) in `dir`; OK when it exits 0.
absl::Status Run(const std::vector<std::string>& argv, const fs::path& dir) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot run ", argv[0]));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed (wait status ", status, ")"));
  }
  return absl::OkStatus();
}

absl::Status Extract(const fs::path& file, const fs::path& sandbox) {
  const std::string name = absl::AsciiStrToLower(file.filename().string());
  for (const char* suffix : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"}) {
    if (absl::EndsWith(name, suffix)) {
      return Run({"tar", "-xf", file.string(), "-C", sandbox.string()}, sandbox);
    }
  }
  if (absl::EndsWith(name, ".zip")) {
    return Run({"unzip", "-o", "-q", file.string(), "-d", sandbox.string()}, sandbox);
  }
  return absl::OkStatus();  // not an archive: kept as it is
}

absl::Status FetchOne(const ::mesos::v1::CommandInfo::URI& uri, const fs::path& sandbox) {
  const std::string& value = uri.value();
  const std::string name = uri.has_output_file() ? uri.output_file() : FetchedName(value);
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(value, " names no file"));
  const fs::path to = sandbox / name;
  std::error_code error;
  fs::create_directories(to.parent_path(), error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", to.parent_path().string()));
  if (absl::StartsWith(value, "/") || absl::StartsWith(value, "file://")) {
    const fs::path from = absl::StartsWith(value, "/") ? value : value.substr(7);
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
    if (error) {
      return absl::NotFoundError(absl::StrCat("failed to fetch ", value, ": ", error.message()));
    }
  } else if (absl::StartsWith(value, "http://") || absl::StartsWith(value, "https://")) {
    if (absl::Status s = HttpGet(value, to); !s.ok()) return s;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        "the local master fetches absolute paths, file:// and http(s):// URIs, not ", value));
  }
  if (uri.executable()) {
    if (chmod(to.c_str(), 0755) != 0) {
      return absl::InternalError(absl::StrCat("cannot make ", to.string(), " executable"));
    }
    return absl::OkStatus();
  }
  if (!uri.has_extract() || uri.extract()) return Extract(to, sandbox);
  return absl::OkStatus();
}

}  // namespace

std::string FetchedName(const std::string& uri) {
  std::string path = uri;
  for (char end : {'?', '#'}) {
    if (size_t at = path.find(end); at != std::string::npos) path.resize(at);
  }
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status FetchIntoSandbox(
    const google::protobuf::RepeatedPtrField<::mesos::v1::CommandInfo::URI>& uris,
    const std::string& sandbox) {
  std::error_code error;
  fs::create_directories(sandbox, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create sandbox ", sandbox));
  for (const auto& uri : uris) {
    if (absl::Status s = FetchOne(uri, sandbox); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace mast::local
