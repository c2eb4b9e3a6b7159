// The one place threads block: waiting threads help run queued work, then spin, then sleep
// on an epoch counter that every event completion and every new piece of work advances.
#pragma once

#include <atomic>
#include <cstdint>

namespace ndl::detail {

class backend;

class progress {
 public:
  /// Wakes every sleeping waiter so that it re-checks its condition.
  void notify() noexcept {
    // seq_cst pairs with the sleepers_ increment in wait_until(): either the waiter sees
    // the new epoch, or we see it sleeping and wake it.
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) epoch_.notify_all();
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
    for (;;) {
      if (done()) return;
      if (help()) continue;
      const std::uint32_t seen = epoch_.load(std::memory_order_seq_cst);
      if (done()) return;
      bool changed = false;
      for (int i = 0; i < spin_iterations; ++i) {
        if (epoch_.load(std::memory_order_acquire) != seen || has_work()) {
          changed = true;
          break;
        }
        pause();
      }
      if (changed) continue;
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (!done() && !has_work()) epoch_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  /// Spin iterations before sleeping (each one a pause instruction).
  static constexpr int spin_iterations = 20000;

 private:
  bool help();
  bool has_work() const;
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  static constexpr int max_helpers = 4;
  std::atomic<backend*> helpers_[max_helpers] = {};
};

}  // namespace ndl::detail
