// The shared state behind ndl::queue.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/runtime.hpp"
#include "ndl/queue.hpp"

namespace ndl::detail {

class queue_impl : public std::enable_shared_from_this<queue_impl> {
 public:
  queue_impl(const device_impl& dev, queue_options options);
  ~queue_impl();
  queue_impl(const queue_impl&) = delete;
  queue_impl& operator=(const queue_impl&) = delete;

  const device_impl& device() const { return dev_; }
  const queue_options& options() const { return options_; }
  std::string describe() const;
  /// The backend's state for this queue (CUDA streams), or null.
  void* backend_state() const { return backend_state_.get(); }

  /// A new command of `kind` for this queue.
  std::shared_ptr<command> make_command(command_kind kind, std::shared_ptr<queue_impl> self) const;

  /// Orders `cmd` after `deps` (and after the previous command on an in-order queue), counts
  /// it in flight and starts it once its dependencies have completed.
  void submit(const std::shared_ptr<command>& cmd, event_list deps);

  /// Waits for every command in flight; throws the first unobserved error.
  void wait();

  /// True while a thread waits for this queue or for everything in flight: a backend that
  /// notices completions lazily flushes what it enqueues meanwhile (commands that were
  /// waiting for a host-side dependency when the wait began). seq_cst: pairs with the
  /// waiter's increment before its flush.
  bool awaited() const noexcept {
    return waiting_.load(std::memory_order_seq_cst) != 0 ||
           runtime::get().waiting_all.load(std::memory_order_seq_cst) != 0;
  }

  /// Called by finish_command().
  void on_finished(const std::shared_ptr<command>& cmd, const std::exception_ptr& error);

 private:
  struct failure_record {
    std::exception_ptr error;
    std::shared_ptr<command> cmd;  // no cycle: a finished command no longer holds its queue
  };
  bool observed(const failure_record& f) const;

  /// Registers `cmd` after the dependency event `s` (`propagate`: whether its failure fails
  /// `cmd`), on the device when the backend can order it there.
  void add_dependency(const std::shared_ptr<command>& cmd, const std::shared_ptr<event_state>& s,
                      bool propagate);

  const device_impl& dev_;
  queue_options options_;
  std::shared_ptr<void> backend_state_;
  bool device_ordering_;
  int id_;
  std::atomic<long> in_flight_{0};
  std::atomic<int> waiting_{0};    // threads in wait()
  std::mutex mutex_;               // guards last_ and failures_
  std::shared_ptr<command> last_;  // in-order queues: the command submitted last
  std::vector<failure_record> failures_;
};

}  // namespace ndl::detail
