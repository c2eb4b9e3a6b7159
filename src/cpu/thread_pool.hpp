// The CPU device's persistent worker pool. Commands are split into chunks that workers and
// waiting threads claim one at a time; the thread that finishes the last chunk finishes the
// command.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/command.hpp"
#include "core/progress.hpp"

namespace ndl::cpu {

class thread_pool {
 public:
  /// Starts `workers` threads (at least one, so asynchronous work always progresses).
  thread_pool(unsigned workers, detail::progress& waiter);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Threads that may run chunks at once: the workers plus one submitting thread.
  unsigned concurrency() const { return static_cast<unsigned>(threads_.size()) + 1; }

  /// Queues `cmd` as `num_chunks` chunks over `units` units of work.
  void push(std::shared_ptr<detail::command> cmd, size_t units, size_t num_chunks);

  /// Runs chunks of the oldest queued job on the calling thread until it has none left to
  /// claim; false when nothing was queued.
  bool run_one();

  /// Runs the units [first, last) of `cmd` on the calling thread (recording failures on it).
  static void run_chunk(detail::command& cmd, size_t first, size_t last);

  /// True when some chunk is waiting to be claimed.
  bool has_work() const { return queued_.load(std::memory_order_acquire) != 0; }

 private:
  struct job {
    std::shared_ptr<detail::command> cmd;
    size_t units = 0;
    size_t num_chunks = 0;
    std::atomic<size_t> next{0};      // next chunk to claim
    std::atomic<size_t> finished{0};  // chunks run to the end
    std::atomic<int> users{1};        // the queue's reference plus each thread claiming
  };

  void worker_loop();
  void retire(job* j);
  static void release(job* j) noexcept;

  detail::progress& waiter_;
  std::mutex mutex_;               // guards jobs_
  std::deque<job*> jobs_;          // jobs with chunks left to claim, oldest first
  std::atomic<size_t> queued_{0};  // jobs_.size(), readable without the lock
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ndl::cpu
