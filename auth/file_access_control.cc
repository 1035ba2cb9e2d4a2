#include "auth/file_access_control.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/policy.h"
#include "auth/tokens.h"
#include "common/log.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace mast::auth {

namespace {

// What tells that a file changed.
struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

absl::StatusOr<FileStamp> Stamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot stat: ", std::strerror(errno)));
  }
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One file's parsed contents, re-read when it changes (see the config).
template <typename T>
class ReloadingFile {
 public:
  using Parser = absl::StatusOr<T> (*)(absl::string_view text, absl::string_view file_name);

  ReloadingFile(std::string kind, std::string path, Parser parse, Clock& clock,
                absl::Duration interval, prometheus::Registry* registry)
      : kind_(std::move(kind)),
        path_(std::move(path)),
        parse_(parse),
        clock_(clock),
        interval_(interval) {
    if (registry == nullptr) return;
    auto& family =
        prometheus::BuildCounter()
            .Name("mast_auth_file_reloads_total")
            .Help("Reloads of the auth files (tokens, policy) after a change, by result.")
            .Register(*registry);
    ok_ = &family.Add({{"file", kind_}, {"result", "ok"}});
    error_ = &family.Add({{"file", kind_}, {"result", "error"}});
  }

  // The first load: its error is the caller's to report.
  absl::Status Load() {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FileStamp> stamp = Stamp(path_);
    if (!stamp.ok()) return stamp.status();
    absl::StatusOr<std::shared_ptr<const T>> value = Read();
    if (!value.ok()) return value.status();
    value_ = std::move(*value);
    stamp_ = *stamp;
    next_check_ = clock_.Now() + interval_;
    return absl::OkStatus();
  }

  std::shared_ptr<const T> Get() {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    if (now < next_check_) return value_;
    next_check_ = now + interval_;
    absl::StatusOr<FileStamp> stamp = Stamp(path_);
    if (stamp.ok() && *stamp == stamp_) return value_;
    absl::StatusOr<std::shared_ptr<const T>> value =
        stamp.ok() ? Read() : absl::StatusOr<std::shared_ptr<const T>>(stamp.status());
    if (!value.ok()) {
      if (!failing_) {
        LogError("auth_file_reload_failed", {{"file", kind_},
                                             {"path", path_},
                                             {"error", value.status().message()},
                                             {"msg", "keeping the last good contents"}});
      }
      failing_ = true;
      if (error_ != nullptr) error_->Increment();
      return value_;
    }
    failing_ = false;
    value_ = std::move(*value);
    stamp_ = *stamp;
    if (ok_ != nullptr) ok_->Increment();
    LogInfo("auth_file_reloaded", {{"file", kind_}, {"path", path_}});
    return value_;
  }

 private:
  absl::StatusOr<std::shared_ptr<const T>> Read() const {
    absl::StatusOr<std::string> text = ReadAll(path_);
    if (!text.ok()) return text.status();
    absl::StatusOr<T> parsed = parse_(*text, path_);
    if (!parsed.ok()) return parsed.status();
    return std::make_shared<const T>(std::move(*parsed));
  }

  const std::string kind_;
  const std::string path_;
  const Parser parse_;
  Clock& clock_;
  const absl::Duration interval_;
  prometheus::Counter* ok_ = nullptr;
  prometheus::Counter* error_ = nullptr;
  absl::Mutex mu_;
  std::shared_ptr<const T> value_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
};

std::string Describe(const Identity& who) {
  switch (who.kind) {
    case Identity::Kind::kAnonymous:
      return "anonymous caller";
    case Identity::Kind::kToken:
      return absl::StrCat("token ", who.name);
    case Identity::Kind::kCertificate:
      return absl::StrCat("certificate ", who.name);
  }
  return who.name;
}

class FileAccessControl final : public AccessControl {
 public:
  explicit FileAccessControl(const FileAccessControlConfig& config)
      : policy_("policy", config.policy_file, &ParsePolicy, ClockOf(config), config.reload_interval,
                config.registry) {
    if (!config.tokens_file.empty()) {
      tokens_.emplace("tokens", config.tokens_file, &ParseTokens, ClockOf(config),
                      config.reload_interval, config.registry);
    }
  }

  absl::Status Load() {
    if (tokens_) {
      if (absl::Status s = tokens_->Load(); !s.ok()) return s;
    }
    return policy_.Load();
  }

  absl::StatusOr<Identity> Authenticate(const Credentials& credentials,
                                        absl::Time now) const override {
    if (credentials.bearer_token) {
      if (!tokens_) return absl::UnauthenticatedError("unknown token (no tokens are configured)");
      absl::StatusOr<std::string> name = tokens_->Get()->Identify(*credentials.bearer_token, now);
      if (!name.ok()) return name.status();
      return Identity{Identity::Kind::kToken, std::move(*name)};
    }
    if (!credentials.certificate_identity.empty()) {
      return Identity{Identity::Kind::kCertificate, credentials.certificate_identity};
    }
    if (policy_.Get()->HasAnonymousGrants()) return Identity{};
    return absl::UnauthenticatedError(
        "no credentials: send a bearer token (mastctl --token_file) or a client certificate");
  }

  absl::Status Authorize(const Identity& who, Role role,
                         absl::string_view service_name) const override {
    if (policy_.Get()->Allows(who, role, service_name)) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        Describe(who), " does not hold ", RoleName(role), " on ",
        service_name.empty() ? "every service" : absl::StrCat("service ", service_name)));
  }

  bool MayActForOthers(const Identity& who) const override {
    return who.kind != Identity::Kind::kAnonymous && policy_.Get()->IsForwarder(who.name);
  }

  bool Open() const override { return false; }

 private:
  static Clock& ClockOf(const FileAccessControlConfig& config) {
    return config.clock != nullptr ? *config.clock : RealClock::Default();
  }

  // Reloading is a cache fill, invisible to callers: mutable.
  mutable ReloadingFile<Policy> policy_;
  mutable std::optional<ReloadingFile<TokenTable>> tokens_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AccessControl>> MakeFileAccessControl(
    FileAccessControlConfig config) {
  if (config.policy_file.empty()) {
    return absl::InvalidArgumentError("auth: a policy file is required");
  }
  if (config.reload_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("auth: reload interval must be positive");
  }
  auto control = std::make_unique<FileAccessControl>(config);
  if (absl::Status s = control->Load(); !s.ok()) return absl::InvalidArgumentError(s.message());
  return control;
}

}  // namespace mast::auth
