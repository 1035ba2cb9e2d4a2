#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "mast/v1/service.pb.h"
#include "mesos/v1/mesos.pb.h"

namespace mast {

// Where one task of a service runs (or is staged): what its constraints are
// judged against.
struct Placement {
  std::string hostname;
  std::vector<::mesos::v1::Attribute> attributes;
};

// One entry of the launch queue: a service with tasks waiting to launch.
struct QueuedService {
  // The spec with WithDefaults applied (and validated). Not owned; must
  // outlive the MatchOffers call.
  const v1::ServiceSpec* spec = nullptr;
  uint64_t version = 0;
  // Tasks to launch; <= 0 means none.
  int to_launch = 0;
  // The agents of the service's running and staged tasks, for constraints.
  std::vector<Placement> existing;
};

struct MatchOptions {
  // The role of tasks whose spec has no role (the framework's role), and of
  // offers that carry no allocation_info (a framework without MULTI_ROLE).
  std::string default_role = "*";
  // Maintenance: an offer whose agent is to go down (Offer.unavailability)
  // within `maintenance_horizon` of `now`, or is down now, is used only
  // when the others cannot take the tasks. Unset `now`: unavailability is
  // not looked at.
  std::optional<absl::Time> now;
  absl::Duration maintenance_horizon = absl::Hours(1);
};

// The agent of `offer` is down at `now` or goes down (its unavailability
// starts) within `horizon`, and is not back before `now`.
bool GoingDownSoon(const ::mesos::v1::Offer& offer, absl::Time now, absl::Duration horizon);

// A task the plan launches.
struct PlannedTask {
  size_t queue_index = 0;            // into the queue passed to MatchOffers
  std::vector<uint32_t> host_ports;  // in the order of spec.ports
  ::mesos::v1::TaskInfo info;
};

struct OfferLaunch {
  ::mesos::v1::OfferID offer_id;
  std::vector<PlannedTask> tasks;  // never empty
};

struct OfferPlan {
  // Offers to ACCEPT with one LAUNCH of these tasks, in the order of the
  // input offers.
  std::vector<OfferLaunch> launches;
  // Offers with nothing to launch, to DECLINE, in input order.
  std::vector<::mesos::v1::OfferID> unused;
  // One line per queued service left with tasks to launch: how many, and
  // why the offers did not take them ("team/web: 3 of 10 tasks not placed;
  // of 5 offers: 3 insufficient mem, 2 constraints[0] hostname UNIQUE").
  // In queue order.
  std::vector<std::string> unmet_reasons;
  // The same, structured (in the same order): the queue index of each
  // service left waiting, and its PlacementStatus (waiting, offers,
  // refused, last_offers, summary; no times: the caller sets them).
  struct Unmet {
    size_t queue_index = 0;
    v1::PlacementStatus placement;
  };
  std::vector<Unmet> unmet;
};

// Decides which queued tasks go on which offer. Pure: no I/O, no clock,
// deterministic for a given input (and a deterministic `new_task_id`, which
// is called once per planned task, in placement order).
//
// Placement:
// - Services take turns, one task each, in queue order; each task goes on
//   the first offer (input order) where it fits, so tasks pack onto offers
//   and several share one when resources allow. Spread comes from
//   constraints.
// - A task runs under spec.role (or options.default_role) and only uses an
//   offer allocated to that role. Within the offer it takes reserved
//   resources before unreserved ones; revocable, shared, persistent or
//   source (MOUNT/provider) disk resources are never taken. Every Resource in
//   a TaskInfo is a piece of one offered Resource, with its role,
//   reservations and allocation_info.
// - Ports: requested fixed numbers must be free in the offer's "ports"
//   ranges; number 0 takes the lowest free port.
// - Constraints (Marathon semantics) on "hostname" or an agent attribute
//   (TEXT as is; SCALAR with up to 3 decimals, "8" not "8.0"; RANGES as
//   "[1-2,5-9]"; SET as "{a,b}", sorted): counts include `existing` and the
//   tasks placed earlier in this plan. An offer without the attribute only
//   satisfies UNLIKE. UNIQUE: no task of the service on that value. CLUSTER:
//   the value `value`, or when empty the value of the first placement
//   (existing first). LIKE/UNLIKE: RE2 full match. MAX_PER: fewer than N on
//   that value. GROUP_BY: a value with no task yet, or (once there are at
//   least N groups) one whose count is the smallest of all groups (so a
//   group with no offer now holds the others back, as in Marathon); among
//   allowed values one without tasks comes first, then the least used, so
//   a plan spreads evenly over the values it is offered. With several
//   GROUP_BYs each is that predicate and the offer whose values carry the
//   fewest tasks wins. Existing tasks whose agent lacks the field count for
//   no value.
//
// Each TaskInfo: task_id from `new_task_id`; name "web.team" for "team/web"
// (a DNS name, as Marathon makes for Mesos-DNS); the offer's agent_id; the
// command (shell, or argv with shell=false and value argv[0]) and user; a
// MESOS container with a DOCKER image (cached unless force_pull_image) when
// there is an image; environment = the spec's env (sorted), HOST (unless the
// spec sets it), PORTS ("a,b"), PORT, PORT<i>, PORT_<NAME> ('-' as '_'),
// MAST_SERVICE, MAST_SERVICE_VERSION; labels = the spec's (sorted) then
// mast.io/service and mast.io/version; kill_policy from kill_grace_period;
// health_check from the spec (HTTP/HTTPS/TCP on the checked port's host port);
// check (CheckInfo) from the readiness check (HTTP with path, TCP on the
// checked port's host port, COMMAND; delay/interval/timeout from the spec,
// unset: 0/10/10 s);
// DiscoveryInfo (FRAMEWORK) naming the ports.
//
// Bad offer data (NaN scalars, inverted ranges, ports above 65535) is
// ignored, never fatal; a spec constraint that does not compile matches no
// offer. Cost: about O(offers x services + tasks) times the constraints
// (field values are interned once per field, regex results cached per
// value); only a service with several GROUP_BYs pays O(offers) per task.
OfferPlan MatchOffers(const std::vector<::mesos::v1::Offer>& offers,
                      const std::vector<QueuedService>& queue,
                      absl::FunctionRef<std::string(const v1::ServiceSpec&)> new_task_id,
                      const MatchOptions& options = {});

// The value a constraint compares for an attribute (see MatchOffers).
std::string AttributeValueString(const ::mesos::v1::Attribute& attribute);

}  // namespace mast
