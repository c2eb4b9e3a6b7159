// White-box tests of the CPU backend's thread pool (src/cpu/thread_pool.hpp): how commands
// are split into chunks, who runs them, cancellation after a failure, and shutdown.
//
// Each test builds its own pool with its own progress engine and pushes kernel commands
// whose CPU entry point records the chunks it is given.
#include "cpu/thread_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <ndl/ndl.hpp>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/command.hpp"
#include "core/progress.hpp"
#include "core/queue_impl.hpp"
#include "core/runtime.hpp"
#include "support/test_util.hpp"

namespace {

using ndl::detail::command;
using ndl::detail::command_kind;
using ndl::detail::cpu_failure;
using ndl::detail::index_space;

/// What the recording entry point saw.
struct chunk_log {
  std::mutex mutex;
  std::vector<std::pair<ndl::size_t, ndl::size_t>> chunks;
  std::set<std::thread::id> threads;
  std::atomic<int> calls{0};
  ndl::size_t fail_at = ~ndl::size_t{0};  // a chunk containing this unit fails
  std::chrono::microseconds delay{0};     // time each chunk takes
  ndl_test::gate* hold = nullptr;         // chunks wait here when set
};

bool recording_entry(const void* payload, const index_space&, ndl::size_t first, ndl::size_t last,
                     cpu_failure& failure) {
  auto& log = *static_cast<chunk_log*>(const_cast<void*>(payload));
  log.calls.fetch_add(1);
  if (log.hold) log.hold->pass();
  if (log.delay.count()) std::this_thread::sleep_for(log.delay);
  {
    std::lock_guard lock(log.mutex);
    log.chunks.emplace_back(first, last);
    log.threads.insert(std::this_thread::get_id());
  }
  if (first <= log.fail_at && log.fail_at < last) {
    failure.error = std::make_exception_ptr(std::runtime_error("chunk failed"));
    failure.id[0] = log.fail_at;
    return false;
  }
  return true;
}

class thread_pool_test : public ::testing::Test {
 protected:
  /// A kernel command over `units` work-items of a fresh CPU queue, as the runtime would
  /// hand it to the backend (counted in flight: finish_command() uncounts it).
  std::shared_ptr<command> kernel_command(chunk_log& log, ndl::size_t units) {
    auto cmd = queue_.impl()->make_command(command_kind::kernel, queue_.impl());
    cmd->record.kernel_type = &typeid(chunk_log);
    cmd->record.space.dims = 1;
    cmd->record.space.global[0] = units;
    cmd->record.payload = &log;
    cmd->record.cpu_entry = &recording_entry;
    ndl::detail::runtime::get().in_flight.fetch_add(1);
    return cmd;
  }

  /// Pushes a command of `units` in `chunks` to a pool of `workers` and checks the tiling.
  void run_and_check_tiling(unsigned workers,
                            std::initializer_list<std::pair<ndl::size_t, ndl::size_t>> shapes) {
    ndl::cpu::thread_pool pool(workers, progress_);
    for (auto [units, chunks] : shapes) {
      SCOPED_TRACE(testing::Message()
                   << workers << " workers, " << units << " units in " << chunks << " chunks");
      chunk_log log;
      auto cmd = kernel_command(log, units);
      const ndl::event done(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->host_event));
      pool.push(cmd, units, chunks);
      cmd.reset();
      done.wait();
      EXPECT_TRUE(tiles(log, units, chunks));
    }
  }

  /// Whether the recorded chunks, `chunks` of them, tile [0, units) exactly.
  static ::testing::AssertionResult tiles(chunk_log& log, ndl::size_t units, ndl::size_t chunks) {
    std::lock_guard lock(log.mutex);
    auto sorted = log.chunks;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.size() != chunks)
      return ::testing::AssertionFailure() << sorted.size() << " chunks ran, not " << chunks;
    ndl::size_t next = 0;
    for (auto [first, last] : sorted) {
      if (first != next || last < first)
        return ::testing::AssertionFailure()
               << "chunk [" << first << ", " << last << ") follows " << next << " (of " << units
               << " units): gap or overlap";
      next = last;
    }
    if (next != units)
      return ::testing::AssertionFailure() << "the chunks end at " << next << ", not " << units;
    return ::testing::AssertionSuccess();
  }

  ndl::queue queue_{ndl::device{"cpu"}};
  ndl::detail::progress progress_;
};

TEST_F(thread_pool_test, concurrency_counts_the_workers_and_one_submitter) {
  for (unsigned workers : {1u, 2u, 5u}) {
    ndl::cpu::thread_pool pool(workers, progress_);
    EXPECT_EQ(pool.concurrency(), workers + 1);
  }
  ndl::cpu::thread_pool at_least_one(0, progress_);
  EXPECT_EQ(at_least_one.concurrency(), 2u) << "a pool always has a worker";
}

TEST_F(thread_pool_test, chunks_tile_the_work_exactly_once) {
  for (unsigned workers : {1u, 3u})
    run_and_check_tiling(workers, {{1, 1}, {10, 3}, {1000, 7}, {5, 5}, {1 << 20, 16}, {3, 8}});
}

// Launches of more than 2^61 work-items: the chunk bounds (chunk * units / chunks) must not
// overflow 64 bits.
TEST_F(thread_pool_test, chunk_bounds_do_not_overflow_for_huge_launches) {
  run_and_check_tiling(
      2, {{ndl::size_t{1} << 62, 8}, {~ndl::size_t{0}, 7}, {(ndl::size_t{1} << 63) + 12345, 16}});
}

// Empty work is still queued (as one empty chunk) rather than finished inline by push():
// finishing inline would recurse through the dependents of long chains of empty commands.
TEST_F(thread_pool_test, empty_work_finishes_without_running) {
  ndl::cpu::thread_pool pool(1, progress_);
  chunk_log log;
  auto cmd = kernel_command(log, 0);
  pool.push(cmd, 0, 0);
  const ndl::event done(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->device_event));
  done.wait();
  EXPECT_TRUE(cmd->device_event.is_complete());
  EXPECT_TRUE(cmd->host_event.is_complete());
  EXPECT_EQ(log.calls.load(), 0);
  EXPECT_FALSE(pool.has_work());
}

TEST_F(thread_pool_test, idle_pool_has_no_work_to_help_with) {
  ndl::cpu::thread_pool pool(2, progress_);
  EXPECT_FALSE(pool.has_work());
  EXPECT_FALSE(pool.run_one());
}

TEST_F(thread_pool_test, chunks_spread_over_the_workers) {
  ndl::cpu::thread_pool pool(3, progress_);
  chunk_log log;
  log.delay = std::chrono::microseconds(2000);
  auto cmd = kernel_command(log, 64);
  const ndl::event done(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->device_event));
  pool.push(std::move(cmd), 64, 64);
  done.wait();
  EXPECT_TRUE(tiles(log, 64, 64));
  std::lock_guard lock(log.mutex);
  EXPECT_GE(log.threads.size(), 2u) << "64 slow chunks all ran on one worker";
}

// A waiting thread helps: while the only worker is held inside a chunk, run_one() from this
// thread runs the queued chunks of another command.
TEST_F(thread_pool_test, run_one_lets_a_waiting_thread_help) {
  // Declared before the pool, opened before the pool joins its worker: an early return
  // cannot leave the worker waiting on a destroyed gate.
  ndl_test::gate hold;
  chunk_log blocked;
  blocked.hold = &hold;
  ndl::cpu::thread_pool pool(1, progress_);
  struct opener {
    ndl_test::gate& g;
    ~opener() { g.open(); }
  } guard{hold};
  auto first = kernel_command(blocked, 1);
  const ndl::event first_done(
      std::shared_ptr<ndl::detail::event_state>(first, &first->device_event));
  pool.push(std::move(first), 1, 1);
  ASSERT_TRUE(hold.wait_arrived(1));
  chunk_log other;
  auto second = kernel_command(other, 100);
  const ndl::event second_done(
      std::shared_ptr<ndl::detail::event_state>(second, &second->device_event));
  pool.push(std::move(second), 100, 4);
  EXPECT_TRUE(pool.has_work());
  int ran = 0;
  while (pool.run_one())
    ++ran;
  EXPECT_EQ(ran, 1);  // one call joins the job and runs all four of its chunks
  EXPECT_EQ(other.calls.load(), 4);
  EXPECT_TRUE(second_done.is_complete());
  EXPECT_FALSE(first_done.is_complete());
  {
    std::lock_guard lock(other.mutex);
    EXPECT_EQ(other.threads.count(std::this_thread::get_id()), 1u);
  }
  hold.open();
  first_done.wait();
  EXPECT_EQ(hold.timeouts.load(), 0);
}

// After a chunk fails, the chunks not yet started are skipped and the command fails with a
// kernel_failure naming the failing work-item.
TEST_F(thread_pool_test, failure_cancels_the_remaining_chunks) {
  ndl::cpu::thread_pool pool(1, progress_);
  chunk_log log;
  log.fail_at = 7;
  auto cmd = kernel_command(log, 1000);
  const ndl::event done(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->device_event));
  pool.push(std::move(cmd), 1000, 100);
  NDL_EXPECT_ERROR(done.wait(), ndl::errc::kernel_failure, "chunk failed", "(7)");
  EXPECT_EQ(log.calls.load(), 1) << "chunks after the failed one still ran";
}

TEST_F(thread_pool_test, commands_pushed_from_many_threads_all_complete) {
  ndl::cpu::thread_pool pool(2, progress_);
  constexpr int threads = 4, per_thread = 100;
  std::vector<std::unique_ptr<chunk_log>> logs;
  std::vector<ndl::event> events;
  std::mutex m;
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t)
    submitters.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        auto log = std::make_unique<chunk_log>();
        const ndl::size_t units = static_cast<ndl::size_t>(1 + i);
        std::shared_ptr<command> cmd;
        {
          std::lock_guard lock(m);
          cmd = kernel_command(*log, units);
          events.emplace_back(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->host_event));
          logs.push_back(std::move(log));
        }
        pool.push(std::move(cmd), units, static_cast<ndl::size_t>(1 + i % 5));
      }
    });
  for (auto& t : submitters)
    t.join();
  ndl::wait(events);
  ndl::size_t total = 0;
  for (auto& log : logs)
    for (auto [first, last] : log->chunks)
      total += last - first;
  EXPECT_EQ(total, static_cast<ndl::size_t>(threads) * (per_thread * (per_thread + 1) / 2));
}

TEST_F(thread_pool_test, pools_start_and_stop_promptly) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    ndl::cpu::thread_pool pool(4, progress_);
    if (i % 2) {
      chunk_log log;
      auto cmd = kernel_command(log, 10);
      const ndl::event done(std::shared_ptr<ndl::detail::event_state>(cmd, &cmd->device_event));
      pool.push(std::move(cmd), 10, 2);
      done.wait();
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// The progress engine wakes sleeping waiters when notified.
TEST(progress_test, notify_wakes_a_sleeping_waiter) {
  ndl::detail::progress p;
  std::atomic<bool> flag{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the waiter is asleep now
    flag.store(true);
    p.notify();
  });
  const auto start = std::chrono::steady_clock::now();
  p.wait_until([&] { return flag.load(); });
  setter.join();
  EXPECT_TRUE(flag.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(progress_test, many_waiters_all_wake) {
  ndl::detail::progress p;
  std::atomic<int> stage{0};
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 8; ++i)
    waiters.emplace_back([&] {
      p.wait_until([&] { return stage.load() == 1; });
      woken.fetch_add(1);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(woken.load(), 0);
  stage.store(1);
  p.notify();
  for (auto& t : waiters)
    t.join();
  EXPECT_EQ(woken.load(), 8);
}

}  // namespace
