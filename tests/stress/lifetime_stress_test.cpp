// Stress: queues whose last handle goes while their work is in flight, also when another
// queue's commands depend on them, and a process that exits with thousands of commands
// pending. The work completes in every case.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
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

// --- d. queues destroyed with work in flight ------------------------------------------------

class queue_lifetime_stress_test : public ndl_test::device_test {};

// Two host threads run rounds. Each round makes two queues, A and B (in-order or
// out-of-order, by round), and submits two interleaved chains of `links` launches: A's link
// k writes scratch[k] = scratch[k - 1] + 1, B's link k (after B's link k - 1 and A's link k)
// adds scratch[k] into the round's result. Then A's last handle goes, then B's, with both
// chains in flight; half the rounds keep B's last event and wait for it, the others keep
// nothing. Scratch memory is either an array (kept alive by B's launches) or USM of a
// surviving queue, so that in those rounds nothing but A's own commands holds queue A.
NDL_TEST_P(queue_lifetime_stress_test, queues_dropped_with_dependent_chains_in_flight) {
  const int threads = 2;
  const ndl::size_t rounds = scaled(1000, 40);
  constexpr ndl::size_t links = 32;
  ASSERT_TRUE(ndl_stress::settle());
  const ndl_stress::runtime_counts before = ndl_stress::counts();
  const stopwatch clock;
  const ndl::queue keeper = make_queue();
  int* result = ndl::malloc_device<int>(rounds, keeper);
  int* scratch = ndl::malloc_device<int>(rounds * links, keeper);
  keeper.fill(result, 0, rounds);
  std::atomic<int> in_flight_at_drop{0};
  const auto step_a = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> s, ndl::size_t k) {
    s[k] = (k == 0 ? 0 : s[k - 1]) + 1;
  };
  const auto step_b = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<const int, 1> s, ndl::size_t k,
                                       int* out) { *out += s[k]; };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (ndl::size_t r = static_cast<ndl::size_t>(t); r < rounds;
           r += static_cast<ndl::size_t>(threads)) {
        ndl::event tail;
        {
          const ndl::queue qb = make_queue(/*in_order=*/r % 3 == 0);
          {
            const ndl::queue qa = make_queue(/*in_order=*/r % 2 == 0);
            const bool use_array = r % 4 < 2;
            ndl::array<int> scratch_array;
            if (use_array) scratch_array = ndl::array<int>(ndl::range{links}, qa);
            const ndl::view<int, 1> usm(scratch + r * links, links);
            ndl::event ea, eb;
            for (ndl::size_t k = 0; k < links; ++k) {
              if (use_array) {
                ea = ndl::call_kernel_async(qa, step_a, ndl::range{1}, {ea}, scratch_array, k)
                         .device_event;
                eb = ndl::call_kernel_async(qb, step_b, ndl::range{1}, {eb, ea}, scratch_array, k,
                                            result + r)
                         .device_event;
              } else {
                ea = ndl::call_kernel_async(qa, step_a, ndl::range{1}, {ea}, usm, k).device_event;
                eb = ndl::call_kernel_async(qb, step_b, ndl::range{1}, {eb, ea}, usm, k, result + r)
                         .device_event;
              }
            }
            tail = eb;
          }  // queue A, its array and its events are gone
          if (!tail.is_complete()) in_flight_at_drop.fetch_add(1);
        }  // queue B is gone
        if (r % 2 == 0) tail.wait();
      }
    });
  for (auto& th : pool)
    th.join();
  // Nothing of the rounds is left to wait on but the runtime's own count.
  ASSERT_TRUE(ndl_stress::settle()) << "commands of dropped queues never finished";
  const double seconds = clock.seconds();
  std::vector<int> host(rounds);
  keeper.memcpy(host.data(), result, rounds * sizeof(int));
  for (ndl::size_t r = 0; r < rounds; ++r)
    ASSERT_EQ(host[r], static_cast<int>(links * (links + 1) / 2)) << "round " << r;
  ndl::free(scratch, keeper);
  ndl::free(result, keeper);
  // Every command, queue and array of the rounds is gone.
  EXPECT_TRUE(ndl_stress::settle_alive(before.commands_alive));
  const ndl_stress::runtime_counts after = ndl_stress::counts();
  EXPECT_LE(after.commands_alive, before.commands_alive);  // `before` may count one being destroyed
  EXPECT_EQ(after.usm_allocations, before.usm_allocations);
  EXPECT_EQ(after.usm_bytes, before.usm_bytes);
  report("queues dropped with work in flight",
         std::to_string(rounds) + " rounds on " + std::to_string(threads) +
             " threads, 2 chains of " + std::to_string(links) + " launches across 2 queues each; " +
             std::to_string(in_flight_at_drop.load()) + " rounds still running when dropped",
         seconds);
}

// --- e. exit with thousands of commands pending --------------------------------------------

std::atomic<long> exit_probe_ran{0};
std::atomic<bool> exit_probe_open{false};

// Prints how much of the work ran, from the last static destructor to run: it is constructed
// before the runtime, so it is destroyed after the runtime drained the work in flight.
struct exit_reporter {
  long expected = 0;
  ~exit_reporter() {
    std::printf("completed %ld of %ld\n", exit_probe_ran.load(), expected);
    std::fflush(stdout);
  }
};

// Eight threads submit chains of launches (to a shared out-of-order queue and to private
// queues of both kinds), all behind one kernel that blocks until exit; then the program
// exits. An atexit handler, registered after the runtime started (so it runs before the
// runtime's destructor), opens the blocking kernel; the runtime's destructor then runs every
// pending command before the process ends.
NDL_TEST_PROBE(stress_exit_with_thousands_pending) {
  static exit_reporter reporter;
  const int threads = 8;
  const ndl::size_t per_thread = scaled(5000, 50);
  reporter.expected = threads * static_cast<long>(per_thread);
  const ndl::device cpu{"cpu"};  // starts the runtime
  const ndl::queue shared(cpu, {.in_order = false});
  std::atexit([] { exit_probe_open.store(true, std::memory_order_release); });
  const ndl::event gate =
      ndl::call_kernel_async(shared, ndl::cpu_only([](ndl::item<1>) {
                               const auto deadline =
                                   std::chrono::steady_clock::now() + std::chrono::seconds(60);
                               while (!exit_probe_open.load(std::memory_order_acquire)) {
                                 if (std::chrono::steady_clock::now() > deadline) {
                                   std::printf("the blocking kernel timed out\n");
                                   break;
                                 }
                                 std::this_thread::yield();
                               }
                             }),
                             ndl::range{1}, {})
          .device_event;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const ndl::queue q = t % 4 == 3 ? shared : ndl::queue(cpu, {.in_order = t % 2 == 0});
      // Uninitialised: a blocking fill now could make this thread run the blocking kernel.
      ndl::array<int> a(ndl::range{per_thread}, q);
      ndl::event last = gate;
      for (ndl::size_t i = 0; i < per_thread; ++i)
        last = ndl::call_kernel_async(
                   q, ndl::cpu_only([](ndl::item<1>, ndl::view<int, 1> v, ndl::size_t at) {
                     v[at] = 1;
                     exit_probe_ran.fetch_add(1, std::memory_order_relaxed);
                   }),
                   ndl::range{1}, {last}, a, i)
                   .device_event;
    });
  for (auto& th : pool)
    th.join();
  std::printf("pending %ld at exit\n", ndl_stress::in_flight());
  std::fflush(stdout);
  std::exit(0);
}

NDL_TEST(exit_stress_test, exit_with_thousands_of_commands_pending_completes_them) {
  if (!ndl::device{}.is_cpu()) GTEST_SKIP() << "the scenario's kernels are host-only";
  const stopwatch clock;
  const auto r =
      ndl_test::run_probe("stress_exit_with_thousands_pending", {}, std::chrono::seconds(200));
  const double seconds = clock.seconds();
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const long expected = 8 * static_cast<long>(scaled(5000, 50));
  EXPECT_NE(
      r.output.find("completed " + std::to_string(expected) + " of " + std::to_string(expected)),
      std::string::npos)
      << r.output;
  long pending = -1;
  const auto at = r.output.find("pending ");
  if (at != std::string::npos) pending = std::atol(r.output.c_str() + at + 8);
  EXPECT_GT(pending, expected) << "the work was not pending at exit\n" << r.output;
  EXPECT_EQ(r.output.find("timed out"), std::string::npos) << r.output;
  report("exit with work in flight",
         "8 threads, " + std::to_string(expected) + " launches in chains, " +
             std::to_string(pending) + " commands pending at exit",
         seconds);
}

}  // namespace
