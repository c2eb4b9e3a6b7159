// Stress: many host threads launching at once (on one shared queue and on private ones, in
// order and out of order, blocking and asynchronous), launches whose events and arrays are
// dropped at once, and blocking waits while every worker is busy. Every result is checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <ndl/ndl.hpp>
#include <string>
#include <thread>
#include <vector>

#include "stress/stress_util.hpp"
#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_stress::report;
using ndl_stress::scaled;
using ndl_stress::stopwatch;

// --- a. host threads x launches ----------------------------------------------------------------

// One kernel, launched with different arguments: writes `value` into slot `at` of the
// thread's row. With `check_order` it first checks that the thread's previous launch has
// written its slot, and writes -1 instead when it has not (the launch ran out of order).
struct store_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<int, 1> row, ndl::size_t at, int value,
                                int check_order) const {
    if (check_order != 0 && at > 0 && row[at - 1] != value - 1) {
      row[at] = -1;
      return;
    }
    row[at] = value;
  }
};

class threads_stress_test : public ndl_test::device_test {
 public:
  // `threads` host threads launch `per_thread` times each, on one queue shared by all or one
  // private queue each. Every fourth launch is call_kernel, the others call_kernel_async whose
  // events the thread waits for in batches. Launch i of thread t writes t * per_thread + i
  // into its own slot; on in-order queues it also checks the thread's previous launch ran.
  void run(bool shared, bool in_order, const char* what) {
    const int threads = 8;
    const ndl::size_t per_thread = scaled(10000, 100);
    const ndl::size_t batch = 256;  // asynchronous launches between two waits
    const int check = in_order ? 1 : 0;
    const stopwatch clock;
    const ndl::queue shared_q = make_queue(in_order);
    auto shared_out =
        ndl::array<int, 2>::full({static_cast<ndl::size_t>(threads), per_thread}, -2, shared_q);
    std::vector<std::vector<int>> rows(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const ndl::queue q = shared ? shared_q : make_queue(in_order);
        const ndl::array<int> row =
            shared ? shared_out(t, ndl::all) : ndl::array<int>::full({per_thread}, -2, q);
        std::vector<ndl::event> pending;
        for (ndl::size_t i = 0; i < per_thread; ++i) {
          const int value = t * static_cast<int>(per_thread) + static_cast<int>(i);
          if (i % 4 == 3) {
            ndl::call_kernel(q, store_kernel{}, ndl::range{1}, row, i, value, check);
          } else {
            auto ev =
                ndl::call_kernel_async(q, store_kernel{}, ndl::range{1}, {}, row, i, value, check);
            pending.push_back(ev.device_event);
            pending.push_back(ev.host_event);
          }
          if (pending.size() >= 2 * batch) {
            ndl::wait(pending);
            pending.clear();
          }
        }
        ndl::wait(pending);
        if (!shared) {
          q.wait();
          rows[static_cast<size_t>(t)] = row.to_host();
        }
      });
    for (auto& th : pool)
      th.join();
    if (shared) {
      shared_q.wait();
      const auto host = shared_out.to_host();
      for (int t = 0; t < threads; ++t)
        rows[static_cast<size_t>(t)].assign(
            host.begin() + static_cast<std::ptrdiff_t>(static_cast<ndl::size_t>(t) * per_thread),
            host.begin() +
                static_cast<std::ptrdiff_t>(static_cast<ndl::size_t>(t + 1) * per_thread));
    }
    const double seconds = clock.seconds();
    for (int t = 0; t < threads; ++t) {
      const auto& row = rows[static_cast<size_t>(t)];
      ASSERT_EQ(row.size(), per_thread);
      for (ndl::size_t i = 0; i < per_thread; ++i)
        ASSERT_EQ(row[i], t * static_cast<int>(per_thread) + static_cast<int>(i))
            << "thread " << t << " launch " << i
            << " (-2: never ran, -1: ran before the thread's previous launch)";
    }
    report(what,
           std::to_string(threads) + " threads x " + std::to_string(per_thread) +
               " launches (1/4 call_kernel, 3/4 call_kernel_async)",
           seconds);
  }
};

NDL_TEST_P(threads_stress_test, one_shared_in_order_queue) {
  run(/*shared=*/true, /*in_order=*/true, "shared in-order queue");
}
NDL_TEST_P(threads_stress_test, one_shared_out_of_order_queue) {
  run(/*shared=*/true, /*in_order=*/false, "shared out-of-order queue");
}
NDL_TEST_P(threads_stress_test, private_in_order_queues) {
  run(/*shared=*/false, /*in_order=*/true, "private in-order queues");
}
NDL_TEST_P(threads_stress_test, private_out_of_order_queues) {
  run(/*shared=*/false, /*in_order=*/false, "private out-of-order queues");
}

// --- c. events and arrays dropped at once --------------------------------------------------

class dropped_handles_stress_test : public ndl_test::device_test {};

// Several threads, each making two launches per step on one of two queues (in-order and
// out-of-order): the first fills a new temporary array, the second sums it into the
// thread's row of an output array. The temporary array and both launches' events are
// dropped right after submission; the launches keep the array alive until they are done.
NDL_TEST_P(dropped_handles_stress_test, events_and_arrays_dropped_after_async_launches) {
  const int threads = 4;
  const ndl::size_t steps = scaled(10000, 100);
  constexpr ndl::size_t width = 16;
  ASSERT_TRUE(ndl_stress::settle());
  const ndl_stress::runtime_counts before = ndl_stress::counts();
  const stopwatch clock;
  const ndl::queue queues[2] = {make_queue(/*in_order=*/true), make_queue(/*in_order=*/false)};
  auto out = ndl::array<int, 2>::full({static_cast<ndl::size_t>(threads), steps}, -1, make_queue());
  std::vector<std::vector<std::weak_ptr<const void>>> watched(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const ndl::queue& q = queues[t % 2];
      const ndl::array<int> row = out(t, ndl::all);
      for (ndl::size_t i = 0; i < steps; ++i) {
        ndl::array<int> tmp(ndl::range{width}, q);  // uninitialised: the first launch fills it
        if (i % 61 == 0) watched[static_cast<size_t>(t)].push_back(tmp.owner());
        const auto fill = ndl::call_kernel_async(
            q,
            [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, int value) {
              v[it.get_id(0)] = value;
            },
            ndl::range{width}, {}, tmp, static_cast<int>(i));
        ndl::call_kernel_async(
            q,
            [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<const int, 1> in, ndl::view<int, 1> o,
                             ndl::size_t at) {
              int sum = 0;
              for (ndl::size_t k = 0; k < in.size(); ++k)
                sum += in[k];
              o[at] = sum;
            },
            ndl::range{1}, {fill.device_event}, tmp, row, i);
      }  // tmp and every event of this step are gone
    });
  for (auto& th : pool)
    th.join();
  queues[0].wait();
  queues[1].wait();
  const double seconds = clock.seconds();
  const auto host = out.to_host();
  for (int t = 0; t < threads; ++t)
    for (ndl::size_t i = 0; i < steps; ++i)
      ASSERT_EQ(host[static_cast<ndl::size_t>(t) * steps + i], static_cast<int>(width * i))
          << "thread " << t << " step " << i;
  // queue::wait() returns once every command has finished, and a command finishes after it
  // released its arguments: no temporary array may still be alive.
  for (const auto& list : watched)
    for (const auto& w : list)
      EXPECT_TRUE(w.expired()) << "a finished launch still holds its array argument";
  // Nothing of the dropped launches is left: no command, no temporary array.
  EXPECT_TRUE(ndl_stress::settle_alive(before.commands_alive));
  const ndl_stress::runtime_counts after = ndl_stress::counts();
  EXPECT_EQ(after.in_flight, 0);
  EXPECT_LE(after.commands_alive, before.commands_alive);  // `before` may count one being destroyed
  EXPECT_EQ(after.usm_allocations, before.usm_allocations + 1) << "only `out` remains";
  report("dropped events and arrays",
         std::to_string(threads) + " threads x " + std::to_string(steps) +
             " steps (2 launches each, a temporary array, every handle dropped)",
         seconds);
}

// --- f. blocking on other launches while every worker is busy ------------------------------

class blocking_stress_test : public ndl_test::device_test {};

struct blocked_state {
  ndl_test::gate ready;
  ndl::event target;  // written before ready opens, read after passing it
  std::atomic<int> finished{0};
  std::atomic<int> errors{0};
};

// One round, on the CPU device `dev`; returns "" or what went wrong.
//  1. `workers` kernels block at a gate, one on each pool thread: every worker is busy.
//  2. This thread waits for a new two-launch chain: it must run the chain itself.
//  3. Two more blocking kernels are queued behind the busy workers; then a target launch
//     whose kernel waits for an inner launch submitted before it. The gate opens and every
//     blocking kernel waits for the target: the waiting workers must run the queued
//     blocking kernels, the target and the inner launch themselves.
//  4. With `host_waiters`, two more host threads wait for the blocking kernels meanwhile.
// The test thread only polls at the end, so that progress comes from the waiters.
std::string blocking_round(const ndl::device& dev, int round, bool host_waiters) {
  constexpr ndl::size_t n = 4096;
  auto st = std::make_shared<blocked_state>();
  ndl_test::open_on_exit guard(std::shared_ptr<ndl_test::gate>(st, &st->ready));
  const ndl::queue qa(dev, {.in_order = false});
  const ndl::queue qb(dev, {.in_order = false});
  // Allocated first: waiting for a fill now could make this thread run a blocking kernel.
  auto pre = ndl::array<int>::zeros({n}, qb);
  auto out = ndl::array<int>::zeros({n}, qb);
  const unsigned units = dev.compute_units();
  const int workers = units > 1 ? static_cast<int>(units) - 1 : 1;  // the pool's threads
  const auto blocker = ndl::cpu_only([st](ndl::item<1>) {
    if (!st->ready.pass()) return;
    try {
      st->target.wait();
    } catch (...) {
      st->errors.fetch_add(1);
    }
    st->finished.fetch_add(1);
  });
  std::vector<ndl::event> blocked;
  for (int i = 0; i < workers; ++i)
    blocked.push_back(ndl::call_kernel_async(qa, blocker, ndl::range{1}, {}).device_event);
  if (!st->ready.wait_arrived(workers)) return "the blocking kernels did not start";
  const auto write = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o, int v) {
    o[it.get_id(0)] = v;
  };
  const auto first = ndl::call_kernel_async(qb, write, ndl::range{n}, {}, pre, round);
  const auto second = ndl::call_kernel_async(
      qb, [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] += 1; },
      ndl::range{n}, {first.device_event}, pre);
  second.device_event.wait();  // every worker is busy: this thread runs both launches
  for (int i = 0; i < 2; ++i)
    blocked.push_back(ndl::call_kernel_async(qa, blocker, ndl::range{1}, {}).device_event);
  const auto inner = ndl::call_kernel_async(qb, write, ndl::range{n}, {}, out, round);
  const auto outer = ndl::call_kernel_async(
      qb, ndl::cpu_only([inner = inner.device_event](ndl::item<1>) { inner.wait(); }),
      ndl::range{1}, {});
  st->target = outer.device_event;
  std::vector<std::thread> waiters;
  std::atomic<int> waiter_errors{0};
  if (host_waiters)
    for (int i = 0; i < 2; ++i)
      waiters.emplace_back([&] {
        try {
          ndl::wait(blocked);
        } catch (...) {
          waiter_errors.fetch_add(1);
        }
      });
  st->ready.open();
  const bool done = ndl_test::spin_until([&] {
    return std::all_of(blocked.begin(), blocked.end(),
                       [](const ndl::event& e) { return e.is_complete(); });
  });
  if (!done) ndl_test::drain(qb);  // rescue: let this thread run the work, then report
  ndl_test::drain(qa);
  for (auto& w : waiters)
    w.join();
  std::string problems;
  if (!done) problems += " blocked kernels deadlocked;";
  if (st->finished.load() != workers + 2)
    problems += " " + std::to_string(st->finished.load()) + " of " + std::to_string(workers + 2) +
                " blocking kernels finished;";
  if (st->errors.load() + waiter_errors.load() != 0) problems += " waits failed;";
  if (st->ready.timeouts.load() != 0) problems += " the gate timed out;";
  const auto p = pre.to_host(), o = out.to_host();
  if (p != std::vector<int>(n, round + 1)) problems += " the host-waited chain is wrong;";
  if (o != std::vector<int>(n, round)) problems += " the target's inner launch is wrong;";
  return problems.empty() ? "" : "round " + std::to_string(round) + ":" + problems;
}

NDL_TEST_P(blocking_stress_test, waits_while_every_worker_is_busy_do_not_deadlock) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const int rounds = static_cast<int>(scaled(300, 10));
  const stopwatch clock;
  for (int r = 0; r < rounds; ++r) {
    const std::string problem = blocking_round(dev(), r, r % 2 == 1);
    ASSERT_EQ(problem, "");
  }
  report("blocking waits, every worker busy",
         std::to_string(rounds) + " rounds of " + std::to_string(dev().compute_units() + 1) +
             " blocked kernels, a host-waited chain and a nested wait",
         clock.seconds());
}

NDL_TEST_PROBE(stress_blocking_one_cpu_thread) {
  const int rounds = static_cast<int>(scaled(300, 10));
  const ndl::device cpu{"cpu"};
  for (int r = 0; r < rounds; ++r) {
    const std::string problem = blocking_round(cpu, r, r % 2 == 1);
    if (!problem.empty()) {
      std::printf("%s\n", problem.c_str());
      return 1;
    }
  }
  std::printf("compute_units %u, %d rounds completed\n", cpu.compute_units(), rounds);
  return 0;
}

NDL_TEST(blocking_process_stress_test, one_cpu_thread_does_not_deadlock) {
  const stopwatch clock;
  const auto r = ndl_test::run_probe("stress_blocking_one_cpu_thread", {{"NDL_CPU_THREADS", "1"}},
                                     std::chrono::seconds(200));
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("compute_units 1, "), std::string::npos) << r.output;
  report("blocking waits, NDL_CPU_THREADS=1", r.output.substr(0, r.output.find('\n')),
         clock.seconds());
}

}  // namespace
