#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "election/leader_term.h"

namespace mast {

// What one part of the daemon does when this replica starts or stops
// leading, or pauses (its ZooKeeper connection is suspended). Any hook may
// be empty.
struct LeadershipHooks {
  std::string name;  // for logs and tests
  absl::AnyInvocable<void(const LeaderTerm&)> on_started;
  absl::AnyInvocable<void()> on_stopped;
  absl::AnyInvocable<void(bool paused)> on_paused;
};

// The one place that knows whether this replica leads: the elector's
// callbacks come here and are passed on to the parts that act only while
// leading, in a fixed order:
// - start: in the order the parts were added, so a part is ready before the
//   parts added after it, which may use it (the task scheduler has its task
//   book before the Mesos subscription can hand it offers);
// - stop, and pause: in the reverse order, so a part stops only after every
//   part that may still use it (the subscription ends before the task book
//   it feeds is dropped), the way destructors run;
// - resume (paused = false): in the order of start.
// Start and stop come in pairs: a stop without a start, or a second start,
// is ignored (and so is a pause while not leading).
//
// Threads: the control loop only (the elector's callbacks run there). The
// hooks run one after another on it; none runs under a lock.
class Leadership {
 public:
  Leadership() = default;
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // Before the elector starts.
  void Add(LeadershipHooks hooks);

  void OnStartedLeading(const LeaderTerm& term);
  void OnStoppedLeading();
  void OnPausedChanged(bool paused);

  bool leading() const { return term_.has_value(); }
  bool paused() const { return paused_; }
  // The current term while leading.
  const std::optional<LeaderTerm>& term() const { return term_; }

 private:
  std::vector<LeadershipHooks> parts_;
  std::optional<LeaderTerm> term_;
  bool paused_ = false;
};

}  // namespace mast
