// Stress: long chains of dependent launches. A chain of a million launches must leave the
// runtime's memory where it found it (finished commands are not kept alive by the commands
// after them), and a failure must fail every launch that depends on it, with the original
// message, while independent work still runs.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <ndl/ndl.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "stress/stress_util.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_stress::report;
using ndl_stress::scaled;
using ndl_stress::stopwatch;

std::string kib(std::size_t bytes) {
  return std::to_string(bytes / 1024) + " KiB";
}

// --- b. a million dependent launches --------------------------------------------------------

class chain_stress_test : public ndl_test::device_test {};

// Each launch of the chain depends on the previous one's device event and adds one to a
// counter. The submitting thread stays at most two windows ahead of the chain (it waits for
// the launch one window back), so the commands alive at any time are bounded. At each
// quarter of the chain it waits for the chain to catch up and samples the heap: finished
// commands, their events and their payloads must all be gone, so the heap in use is where it
// was before the chain, not proportional to the launches made so far.
NDL_TEST_P(chain_stress_test, a_million_dependent_launches_return_their_memory) {
  const std::size_t length = scaled(1'000'000, 1000);
  const std::size_t window = 1024;
  // Below this, growth is allocator noise (thread caches, bins); a leak of one byte per
  // launch over the chain is already larger.
  const std::size_t slack = std::max<std::size_t>(1 << 20, length / 4);
  auto q = make_queue(/*in_order=*/false);
  auto counter = ndl::array<long>::zeros({1}, q);
  const auto add_one = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<long, 1> c) { c[0] += 1; };
  // A short chain first brings the pools, the allocator's caches and the runtime to their
  // steady state, with as many launches in flight as the measured chain has (up to two
  // windows): a GPU backend pools one event per launch in flight, which is not a leak.
  const std::size_t warm_up = 4 * window;
  ndl::event last, throttle;
  for (std::size_t i = 1; i <= warm_up; ++i) {
    last = ndl::call_kernel_async(q, add_one, ndl::range{1}, {last}, counter).device_event;
    if (i % window == 0) {
      throttle.wait();
      throttle = last;
    }
  }
  last.wait();
  throttle = ndl::event();
  q.wait();
  ASSERT_TRUE(ndl_stress::settle());
  const ndl_stress::runtime_counts before = ndl_stress::counts();
  const std::size_t heap_before = ndl_stress::heap_in_use();

  const stopwatch clock;
  std::weak_ptr<ndl::detail::event_state> early, middle;
  std::vector<std::size_t> samples;
  for (std::size_t i = 1; i <= length; ++i) {
    last = ndl::call_kernel_async(q, add_one, ndl::range{1}, {last}, counter).device_event;
    if (i == 10) early = last.state();
    if (i == length / 2) middle = last.state();
    if (i % window == 0) {
      throttle.wait();
      throttle = last;
    }
    if (i % (length / 4) == 0 && i != length) {
      last.wait();
      ASSERT_TRUE(ndl_stress::settle()) << "commands still in flight after the chain caught up";
      // Alive now: the commands of `last` and `throttle`, where `before` counted one.
      ASSERT_TRUE(ndl_stress::settle_alive(before.commands_alive + 1))
          << ndl_stress::counts().commands_alive - before.commands_alive
          << " more commands alive after " << i << " launches";
      samples.push_back(ndl_stress::heap_in_use());
    }
  }
  const double submit_seconds = clock.seconds();
  last.wait();
  q.wait();
  const double seconds = clock.seconds();
  ASSERT_TRUE(ndl_stress::settle()) << "commands still in flight after queue::wait()";
  throttle = ndl::event();
  EXPECT_TRUE(ndl_stress::settle_alive(before.commands_alive))
      << ndl_stress::counts().commands_alive - before.commands_alive
      << " more commands alive after the chain";
  const ndl_stress::runtime_counts after = ndl_stress::counts();
  const std::size_t heap_end = ndl_stress::heap_in_use();

  EXPECT_EQ(counter.to_host(), std::vector<long>{static_cast<long>(length + warm_up)});
  EXPECT_EQ(after.in_flight, 0);
  EXPECT_LE(after.commands_alive, before.commands_alive);  // `before` may count one being destroyed
  EXPECT_EQ(after.usm_allocations, before.usm_allocations);
  EXPECT_EQ(after.usm_bytes, before.usm_bytes);
  EXPECT_TRUE(early.expired()) << "a finished command is kept alive by the chain after it";
  EXPECT_TRUE(middle.expired()) << "a finished command is kept alive by the chain after it";
  last = ndl::event();
  EXPECT_EQ(std::weak_ptr<const void>(counter.owner()).use_count(), 1)
      << "finished launches still hold the counter array";

  std::string heap = "commands alive " + std::to_string(before.commands_alive) + " -> " +
                     std::to_string(after.commands_alive) + ", USM allocations " +
                     std::to_string(before.usm_allocations) + " -> " +
                     std::to_string(after.usm_allocations) + ", heap in use before " +
                     kib(heap_before) + ", at 1/4, 1/2, 3/4:";
  for (std::size_t s : samples)
    heap += " " + kib(s);
  heap += ", after " + kib(heap_end);
  if (ndl_stress::under_sanitizer || heap_before == 0) {
    heap += " (not checked: the sanitizer's allocator replaces glibc's)";
  } else {
    for (std::size_t s : samples)
      EXPECT_LT(s, heap_before + slack) << heap;
    EXPECT_LT(heap_end, heap_before + slack) << heap;
  }
  report("chain of dependent launches",
         std::to_string(length) + " launches (submitted in " + std::to_string(submit_seconds) +
             " s, " + std::to_string(static_cast<long>(static_cast<double>(length) / seconds)) +
             " launches/s); " + heap,
         seconds);
}

// --- g. failures that other launches depend on ----------------------------------------------

class failure_stress_test : public ndl_test::device_test {};

struct fan_counters {
  std::atomic<int> dependents_ran{0};
  std::atomic<int> independent_ran{0};
};

// Each round: a kernel throws; `width` launches depend on it, each has a dependent of its own,
// and one launch depends on all of those (and on an independent launch that succeeds).
// None of them may run: each fails with dependency_failed, naming itself and carrying the
// thrower's message (not a message nested once per level). Independent launches on the
// same queue, and launches after a failure on an in-order queue (which orders them without
// making them depend on it), all run. queue::wait() reports the unobserved failures once.
NDL_TEST_P(failure_stress_test, fan_out_fan_in_after_a_failure) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::size_t width = scaled(64, 8);
  const int rounds = static_cast<int>(scaled(100, 4));
  const stopwatch clock;
  auto q = make_queue(/*in_order=*/false);
  auto in_order = make_queue(/*in_order=*/true);
  auto c = std::make_shared<fan_counters>();
  const auto dependent = ndl::named(
      "fan_dependent", ndl::cpu_only([c](ndl::item<1>) { c->dependents_ran.fetch_add(1); }));
  const auto independent = ndl::named(
      "independent", ndl::cpu_only([c](ndl::item<1>) { c->independent_ran.fetch_add(1); }));
  for (int r = 0; r < rounds; ++r) {
    const std::string cause = "root cause of round " + std::to_string(r);
    const auto thrower = ndl::named(
        "thrower", ndl::cpu_only([cause](ndl::item<1>) { throw std::runtime_error(cause); }));
    const auto root = ndl::call_kernel_async(q, thrower, ndl::range{1}, {});
    std::vector<ndl::launch_events> first, second;
    std::vector<ndl::event> fan_in_deps;
    for (ndl::size_t i = 0; i < width; ++i) {
      first.push_back(ndl::call_kernel_async(q, dependent, ndl::range{1}, {root.device_event}));
      ndl::call_kernel_async(q, independent, ndl::range{1}, {});
      second.push_back(
          ndl::call_kernel_async(q, dependent, ndl::range{1}, {first.back().device_event}));
      fan_in_deps.push_back(second.back().device_event);
    }
    fan_in_deps.push_back(ndl::call_kernel_async(q, independent, ndl::range{1}, {}).device_event);
    const auto fan_in = ndl::call_kernel_async(
        q,
        ndl::named("fan_in", ndl::cpu_only([c](ndl::item<1>) { c->dependents_ran.fetch_add(1); })),
        ndl::range{1}, fan_in_deps);
    // On an in-order queue a failure orders later launches without failing them.
    ndl::call_kernel_async(in_order, thrower, ndl::range{1}, {});
    for (ndl::size_t i = 0; i < width; ++i)
      ndl::call_kernel_async(in_order, independent, ndl::range{1}, {});

    ASSERT_TRUE(ndl_test::spin_until([&] { return fan_in.host_event.is_complete(); }))
        << "the fan-in launch hangs after a failure";
    NDL_ASSERT_ERROR(fan_in.device_event.wait(), ndl::errc::dependency_failed, "kernel 'fan_in'",
                     cause);
    const std::string msg = ndl_test::error_message([&] { fan_in.host_event.wait(); });
    EXPECT_EQ(msg.find("did not run"), msg.rfind("did not run")) << "nested message: " << msg;
    for (const auto& e : first)
      NDL_ASSERT_ERROR(e.device_event.wait(), ndl::errc::dependency_failed,
                       "kernel 'fan_dependent'", cause);
    // Unobserved: the root and the second level. queue::wait() reports the root cause
    // (not a dependent that happened to finish first) and counts the others, once.
    EXPECT_TRUE(ndl_test::throws_error(
        [&] { q.wait(); }, ndl::errc::kernel_failure,
        {"kernel 'thrower'", cause, "(and " + std::to_string(width) + " more failed commands"}));
    EXPECT_NO_THROW(q.wait()) << "reported twice";
    NDL_ASSERT_ERROR(in_order.wait(), ndl::errc::kernel_failure, "kernel 'thrower'", cause);
    EXPECT_NO_THROW(in_order.wait());
    for (const auto& e : second)
      EXPECT_TRUE(e.device_event.has_error() && e.host_event.has_error());
    EXPECT_TRUE(root.device_event.has_error() && root.host_event.has_error());
  }
  EXPECT_EQ(c->dependents_ran.load(), 0) << "a launch ran although a dependency failed";
  EXPECT_EQ(c->independent_ran.load(), rounds * static_cast<int>(2 * width + 1))
      << "independent work was lost after a failure";
  report("fan-out/fan-in after a failure",
         std::to_string(rounds) + " rounds of 1 failing launch, " + std::to_string(2 * width) +
             " dependents in 2 levels, 1 fan-in, " + std::to_string(2 * width + 1) +
             " independent launches",
         clock.seconds());
}

// A long chain whose middle link throws: the links before it run, the links after it all fail
// with dependency_failed naming the thrower's message, and the chain's end completes instead
// of hanging.
NDL_TEST_P(failure_stress_test, long_chain_broken_in_the_middle) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::size_t length = scaled(50000, 100);
  const ndl::size_t broken = length / 2;
  const stopwatch clock;
  auto q = make_queue(/*in_order=*/false);
  auto ran = std::make_shared<std::atomic<long>>(0);
  const auto link =
      ndl::named("link", ndl::cpu_only([ran](ndl::item<1>, ndl::size_t k, ndl::size_t breaks_at) {
                   if (k == breaks_at)
                     throw std::runtime_error("link " + std::to_string(k) + " broke");
                   ran->fetch_add(1);
                 }));
  // Not throttled: waiting on links past the break would observe their errors.
  ndl::event last, thrower, after_thrower;
  for (ndl::size_t k = 0; k < length; ++k) {
    last = ndl::call_kernel_async(q, link, ndl::range{1}, {last}, k, broken).device_event;
    if (k == broken) thrower = last;
    if (k == broken + 1) after_thrower = last;
  }
  ASSERT_TRUE(ndl_test::spin_until([&] { return last.is_complete(); }, std::chrono::seconds(120)))
      << "the end of a broken chain hangs";
  const std::string cause = "link " + std::to_string(broken) + " broke";
  NDL_EXPECT_ERROR(thrower.wait(), ndl::errc::kernel_failure, "kernel 'link'", cause);
  NDL_EXPECT_ERROR(after_thrower.wait(), ndl::errc::dependency_failed, "kernel 'link'", cause);
  const std::string end_msg = ndl_test::error_message([&] { last.wait(); });
  EXPECT_NE(end_msg.find(cause), std::string::npos) << end_msg;
  EXPECT_EQ(end_msg.find("did not run"), end_msg.rfind("did not run")) << "nested: " << end_msg;
  // Three failures were observed through their events; queue::wait() reports the others once.
  const ndl::size_t unobserved = length - broken - 3;
  const std::string report_msg = ndl_test::error_message([&] { q.wait(); });
  EXPECT_NE(report_msg.find(cause), std::string::npos) << report_msg;
  EXPECT_NE(report_msg.find("(and " + std::to_string(unobserved - 1) + " more failed commands"),
            std::string::npos)
      << report_msg;
  EXPECT_NO_THROW(q.wait()) << "reported twice";
  EXPECT_EQ(ran->load(), static_cast<long>(broken)) << "links ran after the break, or were lost";
  report("chain broken in the middle",
         std::to_string(length) + " dependent launches, link " + std::to_string(broken) + " throws",
         clock.seconds());
}

}  // namespace
