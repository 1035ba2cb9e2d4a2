#include "auth/access.h"

namespace mast::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

namespace {

class Everything final : public AccessControl {
 public:
  absl::StatusOr<Identity> Authenticate(const Credentials&, absl::Time) const override {
    return Identity{};
  }
  absl::Status Authorize(const Identity&, Role, absl::string_view) const override {
    return absl::OkStatus();
  }
  bool MayActForOthers(const Identity&) const override { return true; }
  bool Open() const override { return true; }
};

}  // namespace

std::unique_ptr<AccessControl> AllowEverything() { return std::make_unique<Everything>(); }

}  // namespace mast::auth
