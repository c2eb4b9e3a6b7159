// ndl::event and ndl::wait (include/ndl/event.hpp): status, profiling, errors stored on
// events and rethrown by every wait, and the propagation of failures to dependent commands.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ndl/ndl.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

NDL_TEST(event_basics_test, default_event_is_complete) {
  const ndl::event e;
  EXPECT_EQ(e.status(), ndl::event_status::complete);
  EXPECT_TRUE(e.is_complete());
  EXPECT_FALSE(e.has_error());
  EXPECT_NO_THROW(e.wait());
  EXPECT_NO_THROW(ndl::wait({e, ndl::event{}}));
  EXPECT_NO_THROW(ndl::wait({}));
  EXPECT_TRUE(e == ndl::event{});
  NDL_EXPECT_ERROR(e.profiling_start(), ndl::errc::invalid_argument, "profiling");
}

class event_test : public ndl_test::device_test {};

NDL_TEST_P(event_test, events_are_shared_handles) {
  auto q = make_queue();
  auto a = ndl::array<int>::zeros({8}, q);
  auto [host, devev] = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 1; },
      ndl::range{8}, {}, a);
  const ndl::event copy = devev;
  EXPECT_TRUE(copy == devev);
  EXPECT_FALSE(host == devev);
  copy.wait();
  EXPECT_TRUE(devev.is_complete());
  host.wait();
  EXPECT_EQ(a.to_host(), std::vector<int>(8, 1));
}

// submitted (waiting behind another command) -> running -> complete.
NDL_TEST_P(event_test, status_goes_from_submitted_to_running_to_complete) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto first =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  auto second =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  ASSERT_TRUE(g->wait_arrived(1));
  EXPECT_EQ(first.device_event.status(), ndl::event_status::running);
  EXPECT_EQ(second.device_event.status(), ndl::event_status::submitted);
  EXPECT_FALSE(first.host_event.is_complete());
  EXPECT_FALSE(second.host_event.is_complete());
  g->open();
  second.host_event.wait();
  // In order: the second command started only after the first's device event completed.
  EXPECT_EQ(first.device_event.status(), ndl::event_status::complete);
  EXPECT_EQ(second.device_event.status(), ndl::event_status::complete);
  // Host events of different commands are not ordered with each other: the first's arguments
  // may still be being released while the second runs (this once failed CI).
  first.host_event.wait();
  EXPECT_EQ(first.host_event.status(), ndl::event_status::complete);
  EXPECT_FALSE(first.device_event.has_error());
  EXPECT_EQ(g->timeouts.load(), 0);
}

// --- profiling -------------------------------------------------------------------------------

NDL_TEST_P(event_test, profiling_timestamps_are_ordered) {
  auto q = make_queue(/*in_order=*/true, /*profiling=*/true);
  auto a = ndl::array<float>::zeros({4096}, q);
  auto [host, devev] = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> o) { o[it.get_id(0)] = 2.0f; },
      ndl::range{4096}, {}, a);
  float* p = ndl::malloc_device<float>(4096, q);
  const ndl::event fill = q.fill_async(p, 1.0f, 4096);
  const ndl::event copy = q.memcpy_async(p, a.data(), 4096 * sizeof(float));
  // Querying waits for completion first.
  for (const ndl::event& e : {devev, host, fill, copy}) {
    const std::uint64_t submit = e.profiling_submit(), start = e.profiling_start(),
                        end = e.profiling_end();
    EXPECT_TRUE(e.is_complete());
    EXPECT_GT(submit, 0u);
    EXPECT_LE(submit, start);
    EXPECT_LE(start, end);
  }
  // In order: each command starts after the one before it ended.
  EXPECT_LE(devev.profiling_end(), fill.profiling_start());
  EXPECT_LE(fill.profiling_end(), copy.profiling_start());
  // The host event ends after the device event.
  EXPECT_LE(devev.profiling_end(), host.profiling_end());
  q.wait();
  ndl::free(p, q);
}

NDL_TEST_P(event_test, profiling_measures_the_kernel) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true, /*profiling=*/true);
  const auto busy = ndl::cpu_only([](ndl::item<1>) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  const auto before = std::chrono::steady_clock::now();
  auto [host, devev] = ndl::call_kernel_async(q, busy, ndl::range{1}, {});
  devev.wait();
  EXPECT_GE(devev.profiling_end() - devev.profiling_start(), 5'000'000u);
  // Timestamps are on the steady clock.
  const auto before_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count());
  EXPECT_GE(devev.profiling_submit(), before_ns);
}

NDL_TEST_P(event_test, profiling_needs_a_profiling_queue) {
  auto q = make_queue(/*in_order=*/true, /*profiling=*/false);
  int* p = ndl::malloc_device<int>(4, q);
  const ndl::event e = q.fill_async(p, 1, 4);
  NDL_EXPECT_ERROR(e.profiling_submit(), ndl::errc::invalid_argument, "enable_profiling");
  NDL_EXPECT_ERROR(e.profiling_start(), ndl::errc::invalid_argument, "enable_profiling");
  NDL_EXPECT_ERROR(e.profiling_end(), ndl::errc::invalid_argument, "enable_profiling");
  e.wait();
  ndl::free(p, q);
}

// --- errors ----------------------------------------------------------------------------------

NDL_TEST_P(event_test, every_wait_rethrows_the_error) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  auto [host, devev] = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("kaput"); }), ndl::range{1}, {});
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "kaput");
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "kaput");
  NDL_EXPECT_ERROR(host.wait(), ndl::errc::kernel_failure, "kaput");
  EXPECT_TRUE(devev.has_error());
  EXPECT_TRUE(host.has_error());
  EXPECT_EQ(devev.status(), ndl::event_status::complete);
  // Waiting from several threads at once: each one gets the error.
  std::atomic<int> caught{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, e = devev] {
      try {
        e.wait();
      } catch (const ndl::error& err) {
        if (err.code() == ndl::errc::kernel_failure) caught.fetch_add(1);
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(caught.load(), 4);
}

NDL_TEST_P(event_test, wait_for_a_list_waits_for_all_then_throws_the_first_error) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto slow_done = std::make_shared<std::atomic<bool>>(false);
  auto fails = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("first failure"); }),
      ndl::range{1}, {});
  auto fails_too = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("second failure"); }),
      ndl::range{1}, {});
  auto slow = ndl::call_kernel_async(q, ndl::cpu_only([slow_done](ndl::item<1>) {
                                       std::this_thread::sleep_for(std::chrono::milliseconds(30));
                                       slow_done->store(true);
                                     }),
                                     ndl::range{1}, {});
  NDL_EXPECT_ERROR(ndl::wait({slow.device_event, fails.device_event, fails_too.device_event}),
                   ndl::errc::kernel_failure, "first failure");
  EXPECT_TRUE(slow_done->load()) << "ndl::wait threw before every event completed";
  NDL_EXPECT_ERROR(ndl::wait({fails_too.device_event, fails.device_event}),
                   ndl::errc::kernel_failure, "second failure");
  // A vector works as a list too.
  const std::vector<ndl::event> list{slow.host_event, fails.host_event};
  NDL_EXPECT_ERROR(ndl::wait(list), ndl::errc::kernel_failure, "first failure");
  EXPECT_NO_THROW(ndl::wait({slow.device_event, slow.host_event}));
}

// A command depending on a failed one does not run; it fails with dependency_failed and the
// original message.
NDL_TEST_P(event_test, dependents_of_a_failed_command_fail_without_running) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto out = ndl::array<int>::zeros({4}, q);
  int* p = ndl::malloc_device<int>(4, q);
  q.fill(p, 5, 4);
  auto bad = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("root cause 17"); }),
      ndl::range{1}, {});
  auto dependent = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 99; },
      ndl::range{4}, {bad.device_event}, out);
  const ndl::event fill = q.fill_async(p, 7, 4, {bad.device_event});
  const ndl::event copy = q.memcpy_async(p, out.data(), 4 * sizeof(int), {dependent.device_event});
  NDL_EXPECT_ERROR(dependent.device_event.wait(), ndl::errc::dependency_failed, "root cause 17");
  NDL_EXPECT_ERROR(dependent.host_event.wait(), ndl::errc::dependency_failed, "root cause 17");
  NDL_EXPECT_ERROR(fill.wait(), ndl::errc::dependency_failed, "root cause 17", "fill");
  // Two steps away from the failure, the cause is still named.
  NDL_EXPECT_ERROR(copy.wait(), ndl::errc::dependency_failed, "root cause 17");
  NDL_EXPECT_ERROR(bad.device_event.wait(), ndl::errc::kernel_failure, "root cause 17");
  EXPECT_EQ(out.to_host(), std::vector<int>(4, 0)) << "the dependent kernel ran";
  std::vector<int> host(4);
  q.memcpy(host.data(), p, sizeof(int) * 4);
  EXPECT_EQ(host, std::vector<int>(4, 5)) << "the dependent fill or copy ran";
  ndl_test::drain(q);
  ndl::free(p, q);
}

// An in-order queue orders commands but does not fail them for an earlier failure.
NDL_TEST_P(event_test, in_order_queue_keeps_working_after_a_failed_command) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  auto out = ndl::array<int>::zeros({16}, q);
  auto bad = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("only me"); }), ndl::range{1},
      {});
  auto good = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 3; },
      ndl::range{16}, {}, out);
  EXPECT_NO_THROW(good.device_event.wait());
  EXPECT_NO_THROW(good.host_event.wait());
  ndl::call_kernel([] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] += 1; },
                   ndl::range{16}, out);
  EXPECT_EQ(out.to_host(), std::vector<int>(16, 4));
  NDL_EXPECT_ERROR(bad.device_event.wait(), ndl::errc::kernel_failure, "only me");
  EXPECT_NO_THROW(q.wait());
}

// A dependency that had already failed when the command was submitted fails it too.
NDL_TEST_P(event_test, dependency_that_already_failed_fails_the_command) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto bad = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("long ago"); }), ndl::range{1},
      {});
  EXPECT_THROW(bad.device_event.wait(), ndl::error);
  auto ran = std::make_shared<std::atomic<bool>>(false);
  auto later = ndl::call_kernel_async(q, ndl::cpu_only([ran](ndl::item<1>) { ran->store(true); }),
                                      ndl::range{1}, {bad.device_event});
  NDL_EXPECT_ERROR(later.device_event.wait(), ndl::errc::dependency_failed, "long ago");
  EXPECT_FALSE(ran->load());
}

}  // namespace
