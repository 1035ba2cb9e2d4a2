#include "election/leadership.h"

#include <utility>

namespace mast {

void Leadership::Add(LeadershipHooks hooks) { parts_.push_back(std::move(hooks)); }

void Leadership::OnStartedLeading(const LeaderTerm& term) {
  if (term_.has_value()) return;
  term_ = term;
  paused_ = false;
  for (LeadershipHooks& part : parts_) {
    if (part.on_started) part.on_started(term);
  }
}

void Leadership::OnStoppedLeading() {
  if (!term_.has_value()) return;
  term_.reset();
  paused_ = false;
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) {
    if (it->on_stopped) it->on_stopped();
  }
}

void Leadership::OnPausedChanged(bool paused) {
  if (!term_.has_value() || paused == paused_) return;
  paused_ = paused;
  auto notify = [paused](LeadershipHooks& part) {
    if (part.on_paused) part.on_paused(paused);
  };
  if (paused) {
    for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) notify(*it);
  } else {
    for (LeadershipHooks& part : parts_) notify(part);
  }
}

}  // namespace mast
