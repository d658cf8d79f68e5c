// A CAF actor system on the deterministic test coordinator: nothing runs until the
// test says so, time is simulated, and run_seeded() picks the next actor to run with
// a seeded generator, so interleavings vary by seed and every seed replays exactly.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "caf/all.hpp"
#include "caf/scheduler/test_coordinator.hpp"

#include "support/seed.hpp"
#include "tally/protocol.hpp"
#include "tally/detail/spawn.hpp"

namespace tally::test_support {

class deterministic_system {
public:
  deterministic_system() {
    add_error_category(config_);
    config_.set("scheduler.policy", caf::atom("testing"));
    config_.set("logger.inline-output", true);
    system_ = std::make_unique<caf::actor_system>(config_);
    scheduler_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
  }

  ~deterministic_system() {
    for (auto& actor : to_stop_)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    run();
  }

  caf::actor_system& system() { return *system_; }
  caf::scheduler::test_coordinator& scheduler() { return *scheduler_; }

  /// Stops `actor` when the test ends.
  caf::actor keep(caf::actor actor) {
    to_stop_.push_back(actor);
    return actor;
  }

  /// Runs every job until nothing is left (FIFO order between actors).
  void run() { scheduler_->run(); }

  /// Runs every job until nothing is left, choosing the next actor at random.
  void run_seeded(splitmix64& random) {
    while (scheduler_->has_job()) {
      auto& jobs = scheduler_->jobs;
      auto index = random.below(jobs.size());
      std::rotate(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(index),
                  jobs.begin() + static_cast<std::ptrdiff_t>(index) + 1);
      scheduler_->run_once();
    }
  }

  /// Advances simulated time in steps of `step` (so periodic timers fire once per
  /// period, as they would in real time) and runs what each step triggered.
  void advance(caf::timespan duration, caf::timespan step = std::chrono::milliseconds{10}) {
    for (caf::timespan passed{0}; passed < duration; passed += step) {
      scheduler_->clock().advance_time(step);
      run();
    }
  }

  /// Sends a request from a fresh client actor; the slot is filled when the reply
  /// (or an error) arrives, i.e. after run().
  template <class T, class... Ts>
  std::shared_ptr<std::optional<caf::expected<T>>> request(const caf::actor& target, Ts... xs) {
    auto slot = std::make_shared<std::optional<caf::expected<T>>>();
    detail::spawn_without_arguments(*system_, [=](caf::event_based_actor* self) {
      self->request(target, caf::infinite, xs...)
        .then([=](T& value) { *slot = caf::expected<T>{std::move(value)}; },
              [=](caf::error& failure) { *slot = caf::expected<T>{std::move(failure)}; });
    });
    return slot;
  }

  /// request() + run() + the value; fails the test on an error or no reply.
  template <class T, class... Ts>
  T ask(const caf::actor& target, Ts... xs) {
    auto slot = request<T>(target, xs...);
    run();
    EXPECT_TRUE(slot->has_value()) << "no reply";
    if (!slot->has_value())
      return T{};
    EXPECT_TRUE(static_cast<bool>(**slot)) << system_->render((**slot).error());
    return **slot ? std::move(***slot) : T{};
  }

private:
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* scheduler_ = nullptr;
  std::vector<caf::actor> to_stop_;
};

}  // namespace tally::test_support
