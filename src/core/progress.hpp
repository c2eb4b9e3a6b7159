// The one place threads block: waiting threads help run queued work, then spin, then sleep
// on an epoch counter that every event completion and every new piece of work advances.
// Idle workers sleep on a second counter that only new work advances, so that completing an
// event (a GPU command, say) wakes the threads waiting for events and not the whole pool.
#pragma once

#include <atomic>
#include <cstdint>

namespace ndl::detail {

class backend;

class progress {
 public:
  /// Wakes every thread sleeping in wait_until() so that it re-checks its condition (an event
  /// completed).
  void notify() noexcept { bump(epoch_, sleepers_); }

  /// New work was queued (or the pool stops): wakes the threads in wait_until() and the idle
  /// workers in wait_for_work().
  void notify_work() noexcept {
    bump(work_epoch_, work_sleepers_);
    bump(epoch_, sleepers_);
  }

  /// Blocks an idle worker until `done()` is true; woken by notify_work() only.
  template <class Pred>
  void wait_for_work(Pred&& done) {
    sleep_until(work_epoch_, work_sleepers_, done, /*help=*/false);
  }

  /// The backends whose queued work a waiting thread may run: set at start-up (workers
  /// may already be waiting) and cleared at shutdown.
  void set_helpers(backend* const* helpers, int count) noexcept {
    for (int i = 0; i < max_helpers; ++i)
      // Release pairs with the acquire loads in help() and has_work().
      helpers_[i].store(i < count ? helpers[i] : nullptr, std::memory_order_release);
  }

  /// Blocks until `done()` is true, running queued work while there is some.
  template <class Pred>
  void wait_until(Pred&& done) {
    sleep_until(epoch_, sleepers_, done, /*help=*/true);
  }

  /// Spin iterations before sleeping (each one a pause instruction).
  static constexpr int spin_iterations = 20000;

  /// One spin-wait pause (a pause instruction where there is one).
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

 private:
  static void bump(std::atomic<std::uint32_t>& epoch, std::atomic<int>& sleepers) noexcept {
    // seq_cst pairs with the sleepers increment in sleep_until(): either the waiter sees
    // the new epoch, or we see it sleeping and wake it.
    epoch.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) != 0) epoch.notify_all();
  }

  template <class Pred>
  void sleep_until(std::atomic<std::uint32_t>& epoch, std::atomic<int>& sleepers, Pred& done,
                   bool helps) {
    for (;;) {
      if (done()) return;
      if (helps && help()) continue;
      const std::uint32_t seen = epoch.load(std::memory_order_seq_cst);
      if (done()) return;
      bool changed = false;
      for (int i = 0; i < spin_iterations; ++i) {
        if (epoch.load(std::memory_order_acquire) != seen || has_work()) {
          changed = true;
          break;
        }
        pause();
      }
      if (changed) continue;
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      if (!done() && !has_work()) epoch.wait(seen, std::memory_order_seq_cst);
      sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  bool help();
  bool has_work() const;

  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<std::uint32_t> work_epoch_{0};
  std::atomic<int> work_sleepers_{0};
  static constexpr int max_helpers = 4;
  std::atomic<backend*> helpers_[max_helpers] = {};
};

}  // namespace ndl::detail
