/// @file event.hpp
/// `ndl::event`: the completion of a command (kernel, copy, fill, release of arguments).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "ndl/config.hpp"

namespace ndl {

namespace detail {
class event_state;
}

/// The progress of a command.
enum class event_status { submitted, running, complete };

/// The completion of a command on a queue.
///
/// Events are cheap shared handles. A failed command completes with an error that `wait()`
/// rethrows (every time it is called); the error also reaches `queue::wait()` if nobody waited
/// on the event. A default-constructed event is complete.
///
/// @code
/// auto [host, dev] = ndl::call_kernel_async(k, ndl::range{n}, {}, a);
/// dev.wait();  // the kernel has finished
/// @endcode
class NDL_API event {
 public:
  /// A complete event with no error.
  event() = default;

  /// Blocks until the command has completed; on the CPU the waiting thread helps run queued
  /// work meanwhile.
  /// @throws ndl::error the command's error (kernel_failure, dependency_failed, ...).
  void wait() const;

  /// Where the command is now. A failed command is `complete`.
  event_status status() const noexcept;

  /// True once the command has completed (successfully or not).
  bool is_complete() const noexcept { return status() == event_status::complete; }

  /// True when the command completed with an error (does not wait).
  bool has_error() const noexcept;

  /// When the command was submitted, in nanoseconds of the steady clock.
  /// Waits for completion first.
  /// @throws ndl::error (errc::invalid_argument) unless the queue has profiling enabled.
  std::uint64_t profiling_submit() const;
  /// When the command started running (ns, steady clock). Waits for completion first.
  /// @throws ndl::error (errc::invalid_argument) unless the queue has profiling enabled.
  std::uint64_t profiling_start() const;
  /// When the command finished (ns, steady clock). Waits for completion first.
  /// @throws ndl::error (errc::invalid_argument) unless the queue has profiling enabled.
  std::uint64_t profiling_end() const;

  /// The shared state (internal).
  const std::shared_ptr<detail::event_state>& state() const noexcept { return state_; }
  /// Wraps a shared state (internal).
  explicit event(std::shared_ptr<detail::event_state> s) noexcept : state_(std::move(s)) {}

  friend bool operator==(const event& a, const event& b) noexcept { return a.state_ == b.state_; }

 private:
  std::shared_ptr<detail::event_state> state_;
};

/// A non-owning list of events, built from a braced list, a vector, a span or one event.
///
/// It only lives for the duration of the call it is passed to.
class event_list {
 public:
  event_list() = default;
// The list is a parameter type: the braced list it views outlives the call it is passed to.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  event_list(std::initializer_list<event> events) noexcept
      : data_(events.begin()), size_(events.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  event_list(const std::vector<event>& events) noexcept
      : data_(events.data()), size_(events.size()) {}
  event_list(std::span<const event> events) noexcept : data_(events.data()), size_(events.size()) {}
  event_list(const event& e) noexcept : data_(&e), size_(1) {}

  const event* begin() const noexcept {
    return data_;
  }
  const event* end() const noexcept {
    return data_ + size_;
  }
  std::size_t size() const noexcept {
    return size_;
  }
  bool empty() const noexcept {
    return size_ == 0;
  }

 private:
  const event* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Waits for every event in `events`, then rethrows the first error among them (in list
/// order), if any.
/// @throws ndl::error the first failed event's error.
NDL_API void wait(event_list events);

}  // namespace ndl
