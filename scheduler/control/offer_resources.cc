#include "scheduler/control/offer_resources.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "store/networks.h"

namespace mast::offer_matching {
namespace {

using ::mesos::v1::Offer;
using ::mesos::v1::Resource;
using ::mesos::v1::TaskInfo;

// Resources Mast may launch on: not revocable, not shared, no DiskInfo
// (persistent volumes, MOUNT/PATH sources), not from a resource provider,
// and allocated to the offer's role when that is stated.
bool Usable(const Resource& r, const std::string& role) {
  if (r.has_revocable() || r.has_shared() || r.has_disk() || r.has_provider_id()) return false;
  if (r.has_allocation_info() && r.allocation_info().has_role() &&
      r.allocation_info().role() != role) {
    return false;
  }
  return true;
}

// Reserved in either format: `reservations` (RESERVATION_REFINEMENT), or
// the deprecated `role` (+ `reservation` when dynamic), which reading must
// still honour.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
bool Reserved(const Resource& r) {
  return r.reservations_size() > 0 || r.has_reservation() || r.role() != "*";
}
#pragma GCC diagnostic pop

std::vector<Range> PortRanges(const Resource& r) {
  std::vector<Range> ranges;
  for (const auto& range : r.ranges().range()) {
    const uint64_t begin = std::max<uint64_t>(range.begin(), 1);
    const uint64_t end = std::min<uint64_t>(range.end(), 65535);
    if (begin <= end) ranges.push_back({begin, end});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> merged;
  for (const Range& range : ranges) {
    if (!merged.empty() && range.begin <= merged.back().end + 1) {
      merged.back().end = std::max(merged.back().end, range.end);
    } else {
      merged.push_back(range);
    }
  }
  return merged;
}

bool PortFree(const OfferState& o, uint64_t port) {
  for (const PortSlice& slice : o.ports) {
    for (const Range& range : slice.free) {
      if (port < range.begin) break;
      if (port <= range.end) return true;
    }
  }
  return false;
}

// A copy of offered Resource `resource` without its amount, for the task to
// fill in: role, reservations and allocation_info as offered.
Resource* AddPiece(const OfferState& o, int resource, TaskInfo& info) {
  Resource* r = info.add_resources();
  *r = o.offer->resources(resource);
  r->clear_scalar();
  r->clear_ranges();
  r->clear_set();
  if (!r->has_allocation_info() && o.offer->has_allocation_info()) {
    *r->mutable_allocation_info() = o.offer->allocation_info();
  }
  return r;
}

// Removes `port` from the free ranges of port slice `slice`; false when it
// is not free there.
bool RemovePort(OfferState& o, size_t slice, uint64_t port) {
  std::vector<Range>& free = o.ports[slice].free;
  for (size_t r = 0; r < free.size(); ++r) {
    if (port < free[r].begin || port > free[r].end) continue;
    if (free[r].begin == free[r].end) {
      free.erase(free.begin() + static_cast<ptrdiff_t>(r));
    } else if (port == free[r].begin) {
      ++free[r].begin;
    } else if (port == free[r].end) {
      --free[r].end;
    } else {
      const Range upper{port + 1, free[r].end};
      free[r].end = port - 1;
      free.insert(free.begin() + static_cast<ptrdiff_t>(r) + 1, upper);
    }
    --o.free_ports;
    return true;
  }
  return false;
}

// Adds to `info` one ports Resource per slice with ports taken, the ports
// (sorted) as ranges.
void AddPortPieces(const OfferState& o, std::vector<std::vector<uint64_t>>& taken, TaskInfo& info) {
  for (size_t slice = 0; slice < taken.size(); ++slice) {
    std::vector<uint64_t>& ports = taken[slice];
    if (ports.empty()) continue;
    std::sort(ports.begin(), ports.end());
    ::mesos::v1::Value::Ranges* ranges =
        AddPiece(o, o.ports[slice].resource, info)->mutable_ranges();
    for (uint64_t port : ports) {
      const int last = ranges->range_size() - 1;
      if (last >= 0 && ranges->range(last).end() + 1 == port) {
        ranges->mutable_range(last)->set_end(port);
      } else {
        ::mesos::v1::Value::Range* range = ranges->add_range();
        range->set_begin(port);
        range->set_end(port);
      }
    }
  }
}

}  // namespace

std::optional<int64_t> ToMillis(double value) {
  if (!std::isfinite(value) || value < 0 || value > 1e15) return std::nullopt;
  return std::llround(value * 1000);
}

OfferState MakeOfferState(const Offer& offer, const MatchOptions& options) {
  OfferState state;
  state.offer = &offer;
  state.role = offer.has_allocation_info() && offer.allocation_info().has_role()
                   ? offer.allocation_info().role()
                   : options.default_role;
  for (bool reserved_pass : {true, false}) {
    for (int i = 0; i < offer.resources_size(); ++i) {
      const Resource& r = offer.resources(i);
      if (Reserved(r) != reserved_pass || !Usable(r, state.role)) continue;
      if (r.type() == ::mesos::v1::Value::SCALAR && r.has_scalar()) {
        for (int k = 0; k < kNumScalars; ++k) {
          if (r.name() != kScalarNames[k]) continue;
          std::optional<int64_t> millis = ToMillis(r.scalar().value());
          if (millis && *millis > 0) {
            state.scalars[k].push_back({i, *millis});
            state.available[k] += *millis;
          }
        }
      } else if (r.type() == ::mesos::v1::Value::RANGES && r.name() == "ports") {
        PortSlice slice{i, PortRanges(r)};
        for (const Range& range : slice.free) state.free_ports += range.end - range.begin + 1;
        if (!slice.free.empty()) state.ports.push_back(std::move(slice));
      }
    }
  }
  for (const auto& attribute : offer.attributes()) {
    state.attributes.emplace_back(attribute.name(), AttributeValueString(attribute));
  }
  return state;
}

bool PortsFit(const std::vector<uint32_t>& fixed_ports, int dynamic_ports, const OfferState& o) {
  if (fixed_ports.empty() && dynamic_ports == 0) return true;
  if (o.free_ports < fixed_ports.size() + static_cast<uint64_t>(dynamic_ports)) return false;
  for (uint32_t port : fixed_ports) {
    if (!PortFree(o, port)) return false;
  }
  return true;
}

void TakeScalar(OfferState& o, int kind, int64_t need, TaskInfo& info) {
  for (ScalarSlice& slice : o.scalars[kind]) {
    if (need == 0) break;
    const int64_t take = std::min(slice.available, need);
    if (take == 0) continue;
    AddPiece(o, slice.resource, info)
        ->mutable_scalar()
        ->set_value(static_cast<double>(take) / 1000);
    slice.available -= take;
    o.available[kind] -= take;
    need -= take;
  }
}

std::vector<uint32_t> TakePorts(const v1::ServiceSpec& spec, OfferState& o, TaskInfo& info) {
  std::vector<uint32_t> host_ports(spec.ports_size(), 0);
  std::vector<std::vector<uint64_t>> taken(o.ports.size());
  for (int i = 0; i < spec.ports_size(); ++i) {
    if (spec.ports(i).number() == 0 || !TakesHostPort(spec.ports(i))) continue;
    for (size_t slice = 0; slice < o.ports.size(); ++slice) {
      if (RemovePort(o, slice, spec.ports(i).number())) {
        taken[slice].push_back(spec.ports(i).number());
        host_ports[i] = spec.ports(i).number();
        break;
      }
    }
  }
  for (int i = 0; i < spec.ports_size(); ++i) {
    if (spec.ports(i).number() != 0 || !TakesHostPort(spec.ports(i))) continue;
    for (size_t slice = 0; slice < o.ports.size(); ++slice) {
      if (o.ports[slice].free.empty()) continue;
      const uint64_t port = o.ports[slice].free.front().begin;
      RemovePort(o, slice, port);
      taken[slice].push_back(port);
      host_ports[i] = static_cast<uint32_t>(port);
      break;
    }
  }
  AddPortPieces(o, taken, info);
  return host_ports;
}

}  // namespace mast::offer_matching
