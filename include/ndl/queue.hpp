/// @file queue.hpp
/// `ndl::queue`: where commands (kernels, copies, fills) are submitted to a device.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "ndl/device.hpp"
#include "ndl/event.hpp"

namespace ndl {

namespace detail {
class queue_impl;
}

/// How a queue orders its commands and whether it records profiling timestamps.
struct queue_options {
  /// In-order queues run commands one after the other in submission order (also when
  /// several host threads submit); out-of-order queues order commands only through their
  /// dependency events, and run independent commands concurrently.
  bool in_order = true;
  /// Record submit/start/end timestamps on every event of the queue.
  bool enable_profiling = false;
};

/// A queue of commands for one device.
///
/// Queues are shared handles: copies refer to the same queue, and two queues compare equal
/// only when they are the same queue. Each device has one canonical default queue
/// (in-order, no profiling), which arrays and launches use when given no queue. Destroying
/// the last handle does not wait: work in flight completes, and errors nobody waited for are
/// reported on stderr.
///
/// @code
/// ndl::queue q{ndl::device{"cpu"}, {.in_order = false, .enable_profiling = true}};
/// float* p = ndl::malloc_device<float>(n, q);
/// q.fill(p, 1.0f, n);
/// ndl::event e = q.memcpy_async(host.data(), p, n * sizeof(float));
/// e.wait();
/// ndl::free(p, q);
/// @endcode
class NDL_API queue {
 public:
  /// The default queue of the default device.
  queue();
  /// A new queue on `dev`.
  explicit queue(const device& dev, queue_options options = {});

  /// The canonical default queue of `dev`.
  static queue default_queue(const device& dev);
  /// The canonical default queue of the default device.
  static queue default_queue();

  /// The device commands run on.
  device get_device() const;
  /// True for an in-order queue.
  bool is_in_order() const;
  /// True when events record profiling timestamps.
  bool has_profiling() const;

  /// Blocks until every command submitted so far has completed, helping run work meanwhile.
  /// @throws ndl::error the first error of a command nobody waited on (the others are
  ///         counted in its message); the errors are then cleared.
  void wait() const;

  /// Copies `bytes` bytes and blocks until done. Pointers may be USM or plain host memory.
  /// @throws ndl::error (errc::invalid_argument) for a null pointer with a non-zero size.
  void memcpy(void* dst, const void* src, size_t bytes) const;
  /// Copies `bytes` bytes once `deps` have completed; returns the copy's event.
  /// @throws ndl::error (errc::invalid_argument) for a null pointer with a non-zero size.
  event memcpy_async(void* dst, const void* src, size_t bytes, event_list deps = {}) const;

  /// Sets `count` elements at `ptr` to `value` and blocks until done.
  /// @throws ndl::error (errc::invalid_argument) for a null or misaligned pointer.
  template <class T>
  void fill(T* ptr, const T& value, size_t count) const {
    fill_async(ptr, value, count).wait();
  }
  /// Sets `count` elements at `ptr` to `value` once `deps` have completed.
  /// @throws ndl::error (errc::invalid_argument) for a null or misaligned pointer.
  template <class T>
  event fill_async(T* ptr, const T& value, size_t count, event_list deps = {}) const {
    static_assert(std::is_trivially_copyable_v<T>, "fill needs a trivially copyable type");
    return fill_bytes(ptr, &value, sizeof(T), alignof(T), count, deps);
  }

  /// A label for messages, for example "queue#3 (cpu:0, in-order)".
  std::string describe() const;

  friend bool operator==(const queue& a, const queue& b) { return a.impl_ == b.impl_; }

  /// The implementation (internal).
  const std::shared_ptr<detail::queue_impl>& impl() const { return impl_; }
  /// Wraps an implementation (internal).
  explicit queue(std::shared_ptr<detail::queue_impl> impl) : impl_(std::move(impl)) {}

 private:
  event fill_bytes(void* ptr, const void* pattern, size_t pattern_size, size_t align, size_t count,
                   event_list deps) const;

  std::shared_ptr<detail::queue_impl> impl_;
};

}  // namespace ndl
