// The process-wide runtime: backends, the device registry, default queues, the progress
// engine and the count of commands in flight (drained at exit).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "core/progress.hpp"
#include "ndl/device.hpp"

namespace ndl::detail {

class queue_impl;

struct device_impl {
  backend* owner = nullptr;
  backend_kind backend_type = backend_kind::cpu;
  int ordinal = 0;  // within its backend
  std::string filter;
  device_info info;
};

class runtime {
 public:
  /// The runtime, created on first use.
  static runtime& get();

  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  const std::vector<std::unique_ptr<device_impl>>& devices() const { return devices_; }
  const device_impl& default_device();
  std::shared_ptr<queue_impl> default_queue(const device_impl& dev);

  progress& waiter() { return progress_; }

  /// Asks every backend to notice the completion of what is in flight soon (a thread is
  /// about to wait for all of it).
  void flush_all() noexcept {
    for (const auto& b : backends_)
      b->flush_all();
  }

  /// Commands submitted and not yet finished, in every queue.
  std::atomic<long> in_flight{0};

  /// Threads waiting for every command in flight (ndl::wait, exit, an allocation retrying).
  /// A backend that notices completions lazily flushes a command it enqueues meanwhile (one
  /// that was waiting for a dependency when the wait began), as for a queue's wait.
  std::atomic<int> waiting_all{0};

  /// Counts the calling thread in a count of waiting threads (`waiting_all`, a queue's) while
  /// it lives. seq_cst: the count is visible before the waiter's flush.
  class waiting_scope {
   public:
    explicit waiting_scope(std::atomic<int>& count) noexcept : count_(count) {
      count_.fetch_add(1, std::memory_order_seq_cst);
    }
    ~waiting_scope() { count_.fetch_sub(1, std::memory_order_relaxed); }
    waiting_scope(const waiting_scope&) = delete;
    waiting_scope& operator=(const waiting_scope&) = delete;

   private:
    std::atomic<int>& count_;
  };

 private:
  runtime();

  std::vector<std::unique_ptr<backend>> backends_;
  std::vector<backend*> helpers_;
  std::vector<std::unique_ptr<device_impl>> devices_;
  progress progress_;
  std::mutex mutex_;  // guards default_queues_ and default_device_
  std::vector<std::shared_ptr<queue_impl>> default_queues_;
  const device_impl* default_device_ = nullptr;
};

/// Devices matching a filter string (see ndl::device); throws invalid_argument when malformed.
std::vector<const device_impl*> match_devices(std::string_view filter);

}  // namespace ndl::detail
