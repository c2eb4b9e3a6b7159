// The shared state behind ndl::event.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "ndl/event.hpp"

namespace ndl::detail {

struct command;

/// Nanoseconds on the steady clock (profiling timestamps).
inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

class event_state {
 public:
  explicit event_state(bool profiling) noexcept : profiling_(profiling) {}

  event_status status() const noexcept {
    return static_cast<event_status>(status_.load(std::memory_order_acquire));
  }
  bool is_complete() const noexcept { return status() == event_status::complete; }

  /// The error, valid once complete (pairs with the release store in complete()).
  const std::exception_ptr& error() const noexcept { return error_; }

  void mark_running() noexcept {
    std::uint32_t expected = static_cast<std::uint32_t>(event_status::submitted);
    status_.compare_exchange_strong(expected, static_cast<std::uint32_t>(event_status::running),
                                    std::memory_order_relaxed);
  }

  /// The failure at the origin of error(): itself, or for a command that did not run because
  /// a dependency failed, that dependency's root cause (so messages never nest).
  const std::exception_ptr& root_error() const noexcept { return root_error_; }

  /// Completes the event (once), then tells every dependent command. `root` is the root
  /// cause of `error` when it differs (see root_error()).
  void complete(std::exception_ptr error, std::exception_ptr root = nullptr) noexcept;

  /// Registers `cmd` to be told when this event completes; returns false (and registers
  /// nothing) when it already has. `propagate` says whether an error of this event fails
  /// `cmd` (explicit dependencies) or only orders it (in-order queues).
  bool add_dependent(const std::shared_ptr<command>& cmd, bool propagate);

  /// Blocks until complete, helping run work; rethrows the error and marks it observed.
  void wait();

  /// True once some wait() has rethrown (or seen) the error.
  bool error_observed() const noexcept { return observed_.load(std::memory_order_acquire); }

  bool profiling() const noexcept { return profiling_; }

  /// The command this event belongs to (set by the command).
  command* owner = nullptr;
  std::uint64_t t_submit = 0, t_start = 0, t_end = 0;

 private:
  struct dependent {
    std::shared_ptr<command> cmd;
    bool propagate;
  };
  std::atomic<std::uint32_t> status_{static_cast<std::uint32_t>(event_status::submitted)};
  std::atomic<bool> observed_{false};
  bool profiling_;
  std::exception_ptr error_;
  std::exception_ptr root_error_;
  std::mutex mutex_;  // guards dependents_ and the transition to complete
  std::vector<dependent> dependents_;
};

}  // namespace ndl::detail
