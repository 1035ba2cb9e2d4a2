#pragma once

#include <memory>
#include <utility>

namespace mast {

// Callbacks that do nothing once their owner is gone (or has invalidated
// them): the owner keeps a WeakCallbacks member and wraps every completion it
// hands to another component (a ZooKeeper read, a store write, a timer):
//
//   store_.Get(path, callbacks_.Bind([this](absl::StatusOr<Value> value) {...}));
//
// Invalidate() drops every callback bound so far (work of an ended term or
// connection) while later ones run again.
//
// Threads: a bound callback must run on the thread that destroys or
// invalidates the owner (the owner's event loop); the check is not a lock.
// Bind() reads the owner's state, so it must not race with Invalidate() or
// the destructor. A bound callback itself holds only a weak_ptr and `fn`: it
// may be moved, copied and destroyed on another thread (as safely as `fn`),
// e.g. a ZooKeeper or curl thread that only posts it to the loop.
// Bound callbacks return void.
class WeakCallbacks {
 public:
  WeakCallbacks() : alive_(std::make_shared<char>()) {}
  WeakCallbacks(const WeakCallbacks&) = delete;
  WeakCallbacks& operator=(const WeakCallbacks&) = delete;

  // `fn` runs with the callback's arguments while this object lives and has
  // not been invalidated since the call to Bind; otherwise nothing happens.
  template <typename Fn>
  auto Bind(Fn fn) const {
    return [alive = std::weak_ptr<char>(alive_), fn = std::move(fn)](auto&&... args) mutable {
      if (alive.expired()) return;
      fn(std::forward<decltype(args)>(args)...);
    };
  }

  void Invalidate() { alive_ = std::make_shared<char>(); }

 private:
  std::shared_ptr<char> alive_;
};

}  // namespace mast
