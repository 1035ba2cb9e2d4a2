#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "mesos/v1/mesos.pb.h"

namespace mast::local {

// Inclusive ranges of unsigned integers (Mesos `Value.Ranges`), kept sorted, merged and
// non-overlapping. Pure value type.
class IntervalSet {
 public:
  void Add(uint64_t begin, uint64_t end);  // begin <= end
  void Add(const IntervalSet& other);
  void Subtract(const IntervalSet& other);
  bool Contains(const IntervalSet& other) const;
  bool empty() const { return intervals_.empty(); }
  uint64_t count() const;  // number of integers covered (saturating)
  const std::vector<std::pair<uint64_t, uint64_t>>& intervals() const { return intervals_; }
  std::string ToString() const;  // "[31000-31100, 31200-31200]"
  bool operator==(const IntervalSet& other) const { return intervals_ == other.intervals_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> intervals_;
};

// Unreserved resources as the Mesos master counts them: scalars (kept to 3 decimal digits in
// fixed point, like Mesos), ranges and sets, by name. Reservations, persistent volumes,
// revocable and shared resources are not modelled: FromProto() rejects them. Pure value type;
// not thread-safe.
class Resources {
 public:
  // The `--resources` text form: "cpus:4;mem:8192;disk:10000;ports:[31000-32000];zone:{a,b}".
  // A role suffix other than "(*)" is rejected (no static reservations).
  static absl::StatusOr<Resources> Parse(absl::string_view text);
  // Resources named by a scheduler (TaskInfo/ExecutorInfo.resources). Checks that each is
  // well-formed and unreserved. `allocation_info` is returned through `allocation_roles` (the set
  // of roles named; empty if none carried one).
  static absl::StatusOr<Resources> FromProto(
      const google::protobuf::RepeatedPtrField<::mesos::v1::Resource>& resources,
      std::set<std::string>* allocation_roles = nullptr);

  // Appends these resources as protos, ranges first, then scalars, then sets (the real master's
  // order for an agent with ports, cpus, mem, disk). `allocation_role`: sets
  // Resource.allocation_info.role. `role_star`: sets the pre-refinement `role: "*"`.
  void ToProto(google::protobuf::RepeatedPtrField<::mesos::v1::Resource>* out,
               const std::optional<std::string>& allocation_role, bool role_star) const;

  bool empty() const { return scalars_.empty() && ranges_.empty() && sets_.empty(); }
  bool Contains(const Resources& other) const;
  void Add(const Resources& other);
  // Removes what `other` has in common with this (never goes negative).
  void Subtract(const Resources& other);

  double Scalar(const std::string& name) const;        // 0 if absent
  uint64_t RangeCount(const std::string& name) const;  // 0 if absent
  // Quantity as used by OfferFilters: the scalar value, the number of range values or items.
  double Quantity(const std::string& name) const;
  const std::map<std::string, IntervalSet>& ranges() const { return ranges_; }
  const std::map<std::string, int64_t>& scalars_milli() const { return scalars_; }

  // "cpus:0.1; mem:32; ports:[31000-31000]" (Mesos' human form).
  std::string ToString() const;
  // The object of the state endpoints: {"cpus":2.0,"disk":...,"gpus":0.0,"mem":...,"ports":"[..]"}
  // (cpus, disk, gpus and mem always present, like the real master).
  std::string ToStateJson() const;

  bool operator==(const Resources& other) const {
    return scalars_ == other.scalars_ && ranges_ == other.ranges_ && sets_ == other.sets_;
  }

 private:
  std::map<std::string, int64_t> scalars_;  // milli-units, > 0
  std::map<std::string, IntervalSet> ranges_;
  std::map<std::string, std::set<std::string>> sets_;
};

// "rack:r1;zone:a" into (name, value) pairs of TEXT attributes, in order. Names and values must
// be non-empty; names unique.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseAttributes(
    absl::string_view text);

// The master's default `--min_allocatable_resources` (cpus:0.01|mem:32): true if `available`
// holds at least one of those quantities.
bool MeetsDefaultMinAllocatable(const Resources& available);

}  // namespace mast::local
