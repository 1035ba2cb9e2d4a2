#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "mast/v1/service.pb.h"
#include "mesos/v1/mesos.pb.h"
#include "scheduler/control/offer_matcher.h"

// The resource arithmetic of MatchOffers (offer_matcher.h): what of an offer
// a task may use, in Mesos' fixed point, and taking pieces of it for a task.
// Internal to the matcher; pure.
namespace mast::offer_matching {

enum ScalarKind { kCpus = 0, kMem, kDisk, kGpus, kNumScalars };
inline constexpr absl::string_view kScalarNames[kNumScalars] = {"cpus", "mem", "disk", "gpus"};

// Mesos keeps scalars as fixed point with 3 decimals: work in thousandths,
// so packing several tasks onto an offer accumulates no rounding error.
// nullopt for an amount that is not finite, negative or absurdly large.
std::optional<int64_t> ToMillis(double value);

struct Range {
  uint64_t begin;
  uint64_t end;  // inclusive
};

struct ScalarSlice {
  int resource;  // index into Offer.resources
  int64_t available;
};

struct PortSlice {
  int resource;
  std::vector<Range> free;  // sorted, disjoint, within 1..65535
};

// One offer as the plan consumes it. Points into the offer, which must
// outlive it.
struct OfferState {
  const ::mesos::v1::Offer* offer = nullptr;
  std::string role;
  std::vector<ScalarSlice> scalars[kNumScalars];  // reserved before unreserved
  int64_t available[kNumScalars] = {};
  std::vector<PortSlice> ports;  // reserved before unreserved
  uint64_t free_ports = 0;
  std::vector<std::pair<std::string, std::string>> attributes;  // name, value string
  std::vector<PlannedTask> tasks;
};

// The usable resources of `offer` (see MatchOffers: not revocable, shared,
// persistent or from a provider; allocated to the offer's role), with the
// role taken from its allocation_info or else options.default_role.
OfferState MakeOfferState(const ::mesos::v1::Offer& offer, const MatchOptions& options);

// Whether `o` still has every one of `fixed_ports` free and enough free
// ports in all.
bool PortsFit(const std::vector<uint32_t>& fixed_ports, int dynamic_ports, const OfferState& o);

// Takes `need` thousandths of scalar `kind` from `o` (reserved slices
// first) into `info`, one Resource per slice used. `o` must have them.
void TakeScalar(OfferState& o, int kind, int64_t need, ::mesos::v1::TaskInfo& info);

// Takes the ports of `spec` from `o` into `info`: fixed numbers first, then
// the lowest free ports (reserved ranges first). Returns the host ports in
// spec order. PortsFit must hold.
std::vector<uint32_t> TakePorts(const v1::ServiceSpec& spec, OfferState& o,
                                ::mesos::v1::TaskInfo& info);

}  // namespace mast::offer_matching
