// White-box tests of fault injection (src/core/fault.hpp): an allocation, a copy, a kernel
// launch and a submission fail in turn, in their synchronous and asynchronous forms. Each
// test shows that the failure reaches the caller as ndl::error with the right code, that
// commands depending on a failed one fail naming the cause, that nothing leaks (commands
// and USM allocations back to where they were, arrays of a failed launch released) and that
// the same queue runs a correct launch afterwards. A sweep fails every call of each site of
// a small workload in turn. The hooks sit in the runtime's common paths, so they cover the
// CUDA backend too; these tests run on the CPU device, as the unit tests are host-compiled.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <ndl/ndl.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "core/fault.hpp"
#include "core/stats.hpp"
#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/sanitizers.hpp"
#include "support/test_util.hpp"

// The huge-array test asks for 2^60 bytes and expects a clean out_of_memory error.
NDL_TEST_ALLOCATOR_MAY_RETURN_NULL()

namespace {

using ndl::detail::fault_injection;
using ndl::detail::fault_site;
using ndl::detail::get_runtime_stats;
using ndl::detail::runtime_stats;

constexpr size_t n = 1000;

// The runtime counts commands alive from the first get_runtime_stats() call on: make it
// before any test, so that every command a test holds is counted.
struct count_from_the_start : ::testing::Environment {
  void SetUp() override { (void)get_runtime_stats(); }
};
[[maybe_unused]] ::testing::Environment* const counting =
    ::testing::AddGlobalTestEnvironment(new count_from_the_start);

// Waits (bounded) until the runtime's counts equal `base`: commands are released by the
// thread that finished them, possibly just after a waiter has returned.
::testing::AssertionResult back_to(const runtime_stats& base) {
  runtime_stats now;
  const bool same = ndl_test::spin_until(
      [&] {
        now = get_runtime_stats();
        return now.commands_in_flight == base.commands_in_flight &&
               now.commands_alive == base.commands_alive &&
               now.usm_allocations == base.usm_allocations && now.usm_bytes == base.usm_bytes;
      },
      std::chrono::seconds(5));
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "leak: commands in flight " << now.commands_in_flight << " (was "
         << base.commands_in_flight << "), commands alive " << now.commands_alive << " (was "
         << base.commands_alive << "), USM allocations " << now.usm_allocations << " (was "
         << base.usm_allocations << "), USM bytes " << now.usm_bytes << " (was " << base.usm_bytes
         << ")";
}

// The runtime's counts once nothing is in flight (earlier tests may still be finishing).
runtime_stats settled() {
  ndl_test::spin_until([] { return get_runtime_stats().commands_in_flight == 0; });
  runtime_stats s;
  ndl_test::spin_until(
      [&] {
        const runtime_stats a = get_runtime_stats();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        s = get_runtime_stats();
        return a.commands_alive == s.commands_alive && s.commands_in_flight == 0;
      },
      std::chrono::seconds(5));
  return s;
}

// A correct launch, a copy and a fill on `q`, checked: the queue works.
::testing::AssertionResult queue_works(const ndl::queue& q) {
  try {
    std::vector<int> host(n);
    std::iota(host.begin(), host.end(), 0);
    auto a = ndl::array<int>::from_host(host, q);
    auto b = ndl::array<int>::zeros({n}, q);
    ndl::call_kernel(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x, ndl::view<int, 1> y) {
          y[it.get_id(0)] = 3 * x[it.get_id(0)];
        },
        ndl::range{n}, a, b);
    const auto out = b.to_host();
    for (size_t i = 0; i < n; ++i)
      if (out[i] != 3 * static_cast<int>(i))
        return ::testing::AssertionFailure() << "wrong result at " << i << ": " << out[i];
    q.wait();
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "the queue fails after the fault: " << e.what();
  }
}

// The message part every injected failure carries.
std::string injected(fault_site site, int call) {
  return fault_injection::describe(site, static_cast<std::uint64_t>(call));
}

// Disarms every site when a test ends, however it ends.
class fault_test : public ::testing::TestWithParam<ndl::device> {
 protected:
  void SetUp() override {
    fault_injection::disarm_all();
    base_ = settled();
  }
  void TearDown() override { fault_injection::disarm_all(); }
  const ndl::device& dev() const { return GetParam(); }
  ndl::queue make_queue(bool in_order = true) const {
    return ndl::queue(dev(), ndl::queue_options{.in_order = in_order});
  }
  // Drains `q`, checks that nothing leaked and that `q` still works.
  void expect_recovered(const ndl::queue& q) {
    ndl_test::drain(q);
    EXPECT_TRUE(back_to(base_));
    EXPECT_TRUE(queue_works(q));
    EXPECT_TRUE(back_to(base_));
  }
  runtime_stats base_;
};

// --- the switch ------------------------------------------------------------------------------

TEST(fault_spec_test, parses_sites_counts_and_repeats) {
  fault_injection::disarm_all();
  fault_injection::arm_from_spec("alloc:3, copy:1+,launch:2");
  const auto q = ndl::queue(ndl::device{"cpu"});
  // Allocation calls 1 and 2 pass, 3 fails, 4 passes.
  std::vector<void*> p;
  for (int i = 1; i <= 4; ++i) {
    if (i == 3) {
      NDL_EXPECT_ERROR(ndl::malloc_device<int>(4, q), ndl::errc::out_of_memory,
                       injected(fault_site::alloc, 3));
      continue;
    }
    p.push_back(ndl::malloc_device<int>(4, q));
  }
  // Every copy from the first on fails.
  int x = 1, y = 2;
  for (int i = 1; i <= 3; ++i)
    NDL_EXPECT_ERROR(q.memcpy(&y, &x, sizeof x), ndl::errc::backend_failure,
                     injected(fault_site::copy, i));
  EXPECT_EQ(y, 2);
  EXPECT_EQ(fault_injection::calls(fault_site::alloc), 4u);
  EXPECT_EQ(fault_injection::fired(fault_site::alloc), 1u);
  EXPECT_EQ(fault_injection::fired(fault_site::copy), 3u);
  EXPECT_EQ(fault_injection::fired(fault_site::launch), 0u);
  EXPECT_EQ(fault_injection::fired(fault_site::submit), 0u);
  fault_injection::disarm_all();
  q.memcpy(&y, &x, sizeof x);
  EXPECT_EQ(y, 1);
  // Disarmed sites count nothing.
  EXPECT_EQ(fault_injection::calls(fault_site::copy), 3u);
  for (void* v : p)
    ndl::free(v, q);
  ndl_test::drain(q);
}

TEST(fault_spec_test, malformed_specs_are_rejected_and_arm_nothing) {
  fault_injection::disarm_all();
  for (const char* bad :
       {"alloc", "alloc:", "alloc:0", "alloc:x", "alloc:1x", "alloc:-1", "mmap:1", "copy:1,",
        ",copy:1", "copy:1,copy:2", "copy:+", "copy:99999999999999999999", "launch:1 + 2"}) {
    SCOPED_TRACE(bad);
    NDL_EXPECT_ERROR(fault_injection::arm_from_spec(std::string("launch:1,") + bad),
                     ndl::errc::invalid_argument, "malformed fault specification", "site:n[+]");
    // The valid first term was not armed either.
    int ran = 0;
    EXPECT_NO_THROW(ndl::call_kernel(
        ndl::queue(ndl::device{"cpu"}), [&ran](ndl::item<1>) { ran = 1; }, ndl::range{1}));
    EXPECT_EQ(ran, 1);
  }
  NDL_EXPECT_ERROR(fault_injection::arm_from_spec("mmap:1"), ndl::errc::invalid_argument,
                   "'mmap' is not a fault site");
  NDL_EXPECT_ERROR(fault_injection::arm(fault_site::copy, 0), ndl::errc::invalid_argument,
                   "from 1");
  // Empty specs arm nothing.
  EXPECT_NO_THROW(fault_injection::arm_from_spec(""));
  EXPECT_NO_THROW(fault_injection::arm_from_spec("  "));
  fault_injection::disarm_all();
}

// --- allocations -----------------------------------------------------------------------------

TEST_P(fault_test, failed_allocations_raise_out_of_memory_and_leak_nothing) {
  auto q = make_queue();
  for (auto kind : {ndl::usm_kind::device, ndl::usm_kind::shared, ndl::usm_kind::host}) {
    fault_injection::arm(fault_site::alloc, 1);
    NDL_EXPECT_ERROR(ndl::malloc(64, q, kind), ndl::errc::out_of_memory, "cannot allocate 64",
                     std::string(ndl::to_string(kind)), dev().filter_string(),
                     injected(fault_site::alloc, 1));
  }
  fault_injection::arm(fault_site::alloc, 1);
  NDL_EXPECT_ERROR(ndl::malloc_device<double>(n, q), ndl::errc::out_of_memory,
                   injected(fault_site::alloc, 1));
  // Arrays: the constructor and every factory allocate first.
  std::vector<int> host(n, 7);
  fault_injection::arm(fault_site::alloc, 1);
  NDL_EXPECT_ERROR((ndl::array<int, 2>({10, 100}, q)), ndl::errc::out_of_memory,
                   injected(fault_site::alloc, 1));
  fault_injection::arm(fault_site::alloc, 1);
  NDL_EXPECT_ERROR(ndl::array<int>::zeros({n}, q), ndl::errc::out_of_memory);
  fault_injection::arm(fault_site::alloc, 1);
  NDL_EXPECT_ERROR(ndl::array<int>::from_host(host, q), ndl::errc::out_of_memory);
  // The second of two arrays fails: the first is freed as the exception unwinds.
  fault_injection::arm(fault_site::alloc, 2);
  NDL_EXPECT_ERROR(
      {
        auto a = ndl::array<int>::full({n}, 1, q);
        auto b = ndl::array<int>::full({n}, 2, q);
      },
      ndl::errc::out_of_memory, injected(fault_site::alloc, 2));
  EXPECT_EQ(fault_injection::fired(fault_site::alloc), 1u);
  fault_injection::disarm_all();
  expect_recovered(q);
}

// Out of memory for real: huge arrays fail as huge USM allocations do, register nothing and
// leave the device usable.
TEST_P(fault_test, huge_arrays_raise_out_of_memory_and_leak_nothing) {
  auto q = make_queue();
  const size_t huge = size_t{1} << 60;
  for (auto kind : {ndl::usm_kind::device, ndl::usm_kind::shared, ndl::usm_kind::host})
    NDL_EXPECT_ERROR((ndl::array<char>(ndl::range{huge}, q, ndl::layout::c, kind)),
                     ndl::errc::out_of_memory, "cannot allocate " + std::to_string(huge),
                     std::string(ndl::to_string(kind)), dev().filter_string());
  // 2^58 elements of 4 bytes: no overflow, just too much.
  NDL_EXPECT_ERROR((ndl::array<float, 2>::zeros({size_t{1} << 29, size_t{1} << 29}, q)),
                   ndl::errc::out_of_memory, "cannot allocate " + std::to_string(huge));
  NDL_EXPECT_ERROR(
      (ndl::array<int, 3>::full({size_t{1} << 20, size_t{1} << 20, size_t{1} << 18}, 1, q)),
      ndl::errc::out_of_memory, "cannot allocate " + std::to_string(huge));
  EXPECT_TRUE(back_to(base_));
  expect_recovered(q);
}

// --- copies ----------------------------------------------------------------------------------

TEST_P(fault_test, failed_synchronous_copies_throw_at_the_call) {
  auto q = make_queue();
  std::vector<int> host(n);
  std::iota(host.begin(), host.end(), 0);
  auto a = ndl::array<int>::full({n}, 5, q);
  int* p = ndl::malloc_device<int>(n, q);

  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(q.memcpy(p, host.data(), n * sizeof(int)), ndl::errc::backend_failure,
                   "memcpy failed", dev().filter_string(), injected(fault_site::copy, 1));
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(q.fill(p, 1, n), ndl::errc::backend_failure, "fill failed");
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(ndl::array<int>::zeros({n}, q), ndl::errc::backend_failure, "fill failed");
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(ndl::array<int>::from_host(host, q), ndl::errc::backend_failure,
                   injected(fault_site::copy, 1));
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(a.copy_from_host(host), ndl::errc::backend_failure);
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(a.to_host(), ndl::errc::backend_failure);
  // A strided array copies through a different command.
  fault_injection::arm(fault_site::copy, 1);
  NDL_EXPECT_ERROR(a(ndl::slice(0, n, 2)).to_host(), ndl::errc::backend_failure,
                   "array copy to host failed");
  fault_injection::arm(fault_site::copy, 1);
  std::vector<int> half(n / 2, 9);
  NDL_EXPECT_ERROR(a(ndl::slice(0, n, 2)).copy_from_host(half), ndl::errc::backend_failure,
                   "array copy from host failed");
  EXPECT_EQ(fault_injection::fired(fault_site::copy), 1u);
  fault_injection::disarm_all();
  // Nothing was copied by the failed commands.
  EXPECT_EQ(a.to_host(), std::vector<int>(n, 5));
  // The errors were all observed: the queue has none left to report.
  EXPECT_NO_THROW(q.wait());
  ndl::free(p, q);
  a = {};
  expect_recovered(q);
}

TEST_P(fault_test, failed_asynchronous_copies_fail_their_event_and_their_dependents) {
  auto q = make_queue(/*in_order=*/false);
  std::vector<int> host(n, 4);
  auto a = ndl::array<int>::full({n}, 1, q);
  int* p = ndl::malloc_device<int>(n, q);
  std::vector<int> out(n, -1);

  fault_injection::arm(fault_site::copy, 1);
  ndl::event copy = q.memcpy_async(p, host.data(), n * sizeof(int));
  // Dependents: a launch, a fill and an array transfer.
  auto launch = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x) { x[it.get_id(0)] = 2; },
      ndl::range{n}, {copy}, a);
  ndl::event fill = q.fill_async(p, 0, n, {copy});
  ndl::event back = a.copy_to_host_async(out, {launch.device_event});
  NDL_EXPECT_ERROR(copy.wait(), ndl::errc::backend_failure, "memcpy failed",
                   injected(fault_site::copy, 1));
  for (const ndl::event* e : {&launch.device_event, &launch.host_event, &fill, &back})
    NDL_EXPECT_ERROR(e->wait(), ndl::errc::dependency_failed, "did not run",
                     injected(fault_site::copy, 1));
  EXPECT_EQ(fault_injection::fired(fault_site::copy), 1u);
  EXPECT_EQ(out, std::vector<int>(n, -1));
  EXPECT_NO_THROW(q.wait());

  // A strided array transfer fails asynchronously too; nobody waits for its event, so the
  // queue reports it.
  fault_injection::arm(fault_site::copy, 1);
  (void)a(ndl::slice(0, n, 2)).copy_to_host_async(std::span<int>(out).first(n / 2));
  NDL_EXPECT_ERROR(q.wait(), ndl::errc::backend_failure, "array copy to host",
                   injected(fault_site::copy, 1));
  fault_injection::disarm_all();
  EXPECT_EQ(a.to_host(), std::vector<int>(n, 1));
  ndl::free(p, q);
  a = {};
  copy = fill = back = {};  // events hold their commands
  launch = {};
  expect_recovered(q);
}

// --- kernel launches -------------------------------------------------------------------------

TEST_P(fault_test, a_failed_synchronous_launch_throws_and_runs_nothing) {
  auto q = make_queue();
  auto a = ndl::array<int>::full({n}, 1, q);
  const auto add = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x, int k) {
    x[it.get_id(0)] += k;
  };
  fault_injection::arm(fault_site::launch, 1);
  NDL_EXPECT_ERROR(ndl::call_kernel(add, ndl::range{n}, a, 1), ndl::errc::backend_failure,
                   "kernel '", "failed on " + dev().filter_string(),
                   injected(fault_site::launch, 1));
  // One work-item: the synchronous launch that runs on the calling thread.
  fault_injection::arm(fault_site::launch, 1);
  NDL_EXPECT_ERROR(ndl::call_kernel(q, add, ndl::range{1}, a, 1), ndl::errc::backend_failure);
  // nd_range launches too.
  fault_injection::arm(fault_site::launch, 1);
  NDL_EXPECT_ERROR(
      ndl::call_kernel(
          [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> x) { x[it.get_global_id(0)] = 0; },
          ndl::nd_range{ndl::range{n}, ndl::range{10}}, a),
      ndl::errc::backend_failure, injected(fault_site::launch, 1));
  fault_injection::disarm_all();
  EXPECT_EQ(a.to_host(), std::vector<int>(n, 1));
  EXPECT_NO_THROW(q.wait());
  a = {};
  expect_recovered(q);
}

TEST_P(fault_test, a_failed_asynchronous_launch_fails_its_dependents_and_releases_its_arrays) {
  for (bool in_order : {false, true}) {
    SCOPED_TRACE(in_order ? "in-order queue" : "out-of-order queue");
    auto q = make_queue(in_order);
    std::weak_ptr<const void> a_storage, b_storage;
    ndl::launch_events first, second;
    ndl::event back;
    std::vector<int> out(n, -1);
    {
      auto a = ndl::array<int>::full({n}, 1, q);
      auto b = ndl::array<int>::full({n}, 2, q);
      a_storage = a.owner();
      b_storage = b.owner();
      fault_injection::arm(fault_site::launch, 1);
      first = ndl::call_kernel_async(
          [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x, ndl::view<int, 1> y) {
            y[it.get_id(0)] += x[it.get_id(0)];
          },
          ndl::range{n}, {}, a, b);
      second = ndl::call_kernel_async(
          [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> y) { y[it.get_id(0)] *= 10; },
          ndl::range{n}, {first.device_event}, b);
      back = b.copy_to_host_async(out, {second.device_event});
    }  // the arrays are dropped: only the launches keep them
    NDL_EXPECT_ERROR(first.device_event.wait(), ndl::errc::backend_failure,
                     injected(fault_site::launch, 1));
    NDL_EXPECT_ERROR(first.host_event.wait(), ndl::errc::backend_failure);
    for (const ndl::event* e : {&second.device_event, &second.host_event, &back})
      NDL_EXPECT_ERROR(e->wait(), ndl::errc::dependency_failed, "did not run", "backend_failure",
                       injected(fault_site::launch, 1));
    EXPECT_EQ(fault_injection::fired(fault_site::launch), 1u);
    fault_injection::disarm_all();
    EXPECT_EQ(out, std::vector<int>(n, -1));
    EXPECT_NO_THROW(q.wait());
    EXPECT_TRUE(a_storage.expired());
    EXPECT_TRUE(b_storage.expired());
    first = second = {};  // events hold their commands
    back = {};
    expect_recovered(q);
  }
}

TEST_P(fault_test, an_unobserved_failed_launch_is_reported_by_the_queue) {
  auto q = make_queue();
  auto a = ndl::array<int>::full({n}, 1, q);
  fault_injection::arm(fault_site::launch, 2);
  for (int i = 0; i < 3; ++i)
    (void)ndl::call_kernel_async(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x) { x[it.get_id(0)] += 1; },
        ndl::range{n}, {}, a);
  NDL_EXPECT_ERROR(q.wait(), ndl::errc::backend_failure, injected(fault_site::launch, 2));
  fault_injection::disarm_all();
  // On an in-order queue the launches are only ordered: the others ran.
  EXPECT_EQ(a.to_host(), std::vector<int>(n, 3));
  a = {};
  expect_recovered(q);
}

// --- submissions -----------------------------------------------------------------------------

TEST_P(fault_test, failed_submissions_throw_before_anything_is_enqueued) {
  auto q = make_queue();
  std::vector<int> host(n, 3);
  auto a = ndl::array<int>::full({n}, 1, q);
  int* p = ndl::malloc_device<int>(n, q);
  const auto inc = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x) { x[it.get_id(0)] += 1; };
  const auto with_fault = [&](auto&& f) {
    fault_injection::arm(fault_site::submit, 1);
    f();
  };
  const std::string msg = injected(fault_site::submit, 1);
  NDL_EXPECT_ERROR(with_fault([&] { q.memcpy(p, host.data(), n * sizeof(int)); }),
                   ndl::errc::backend_failure, "submitting memcpy to queue#", msg);
  NDL_EXPECT_ERROR(with_fault([&] { (void)q.memcpy_async(p, host.data(), n * sizeof(int)); }),
                   ndl::errc::backend_failure, msg);
  NDL_EXPECT_ERROR(with_fault([&] { q.fill(p, 0, n); }), ndl::errc::backend_failure,
                   "submitting fill", msg);
  NDL_EXPECT_ERROR(with_fault([&] { (void)q.fill_async(p, 0, n); }), ndl::errc::backend_failure);
  NDL_EXPECT_ERROR(with_fault([&] { (void)ndl::array<int>::zeros({n}, q); }),
                   ndl::errc::backend_failure);
  NDL_EXPECT_ERROR(with_fault([&] { (void)ndl::array<int>::from_host(host, q); }),
                   ndl::errc::backend_failure);
  NDL_EXPECT_ERROR(with_fault([&] { (void)a.to_host(); }), ndl::errc::backend_failure, msg);
  NDL_EXPECT_ERROR(with_fault([&] { (void)a(ndl::slice(0, n, 2)).to_host(); }),
                   ndl::errc::backend_failure, "submitting array copy to host");
  NDL_EXPECT_ERROR(with_fault([&] { ndl::call_kernel(inc, ndl::range{n}, a); }),
                   ndl::errc::backend_failure, "submitting kernel '", msg);
  // An asynchronous launch: the arrays it would have kept are released at once.
  std::weak_ptr<const void> storage;
  NDL_EXPECT_ERROR(with_fault([&] {
                     auto b = ndl::array<int>::full({n}, 1, q);
                     storage = b.owner();
                     (void)ndl::call_kernel_async(inc, ndl::range{n}, {}, b);
                   }),
                   ndl::errc::backend_failure, msg);
  EXPECT_TRUE(storage.expired());
  fault_injection::disarm_all();
  EXPECT_EQ(a.to_host(), std::vector<int>(n, 1));
  EXPECT_NO_THROW(q.wait());
  ndl::free(p, q);
  a = {};
  expect_recovered(q);
}

TEST_P(fault_test, a_failed_submission_leaves_no_dependency_behind) {
  // The failed submission depends on a launch still running: it must not be registered with
  // it (no in-flight count, no dependent edge keeping it alive).
  for (bool in_order : {true, false}) {
    SCOPED_TRACE(in_order ? "in-order queue" : "out-of-order queue");
    auto q = make_queue(in_order);
    auto g = std::make_shared<ndl_test::gate>();
    ndl_test::open_on_exit opener(g);
    std::weak_ptr<const void> storage;
    ndl::launch_events blocked;
    {
      auto a = ndl::array<int>::full({n}, 1, q);
      blocked = ndl::call_kernel_async(q, [g](ndl::item<1>) { g->pass(); }, ndl::range{1}, {});
      ASSERT_TRUE(g->wait_arrived(1));
      const runtime_stats during = get_runtime_stats();
      storage = a.owner();
      fault_injection::arm(fault_site::submit, 1);
      NDL_EXPECT_ERROR(
          (void)ndl::call_kernel_async(
              [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> x) { x[it.get_id(0)] = 0; },
              ndl::range{n}, {blocked.device_event}, a),
          ndl::errc::backend_failure, injected(fault_site::submit, 1));
      fault_injection::disarm_all();
      const runtime_stats after = get_runtime_stats();
      EXPECT_EQ(after.commands_in_flight, during.commands_in_flight);
      EXPECT_EQ(after.commands_alive, during.commands_alive);
    }
    EXPECT_TRUE(storage.expired());
    g->open();
    EXPECT_TRUE(ndl_test::bounded(blocked));
    // Later commands on the queue run normally after it.
    EXPECT_TRUE(queue_works(q));
    blocked = {};  // events hold their commands
    expect_recovered(q);
  }
}

// --- every call of every site, in turn -------------------------------------------------------

// Frees a USM pointer once the queue has drained (a workload that throws midway still has
// commands in flight that use it).
struct usm_guard {
  const ndl::queue& q;
  unsigned* p = nullptr;
  ~usm_guard() {
    ndl_test::drain(q);
    ndl::free(p, q);
  }
};

// A small workload: three allocations, a copy in, a fill, a memcpy, three dependent launches
// and a copy out; the result is 4 * i + 2. On an in-order queue the commands are ordered by
// the queue only; on an out-of-order queue by their events. (Unsigned: on an in-order queue
// the launches after a failed command still run, on whatever the memory holds.)
std::vector<unsigned> workload(const ndl::queue& q) {
  const bool in_order = q.is_in_order();
  std::vector<unsigned> host(n);
  std::iota(host.begin(), host.end(), 0);
  usm_guard scratch{q};
  auto a = ndl::array<unsigned>::from_host(host, q);
  auto b = ndl::array<unsigned>::zeros({n}, q);
  scratch.p = ndl::malloc_device<unsigned>(n, q);
  const ndl::event copied = q.memcpy_async(scratch.p, host.data(), n * sizeof(unsigned));
  // event_list does not own its events: return them in a vector.
  const auto deps = [&](std::vector<ndl::event> events) {
    return in_order ? std::vector<ndl::event>{} : events;
  };
  auto l1 = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<unsigned, 1> x, ndl::view<unsigned, 1> y) {
        y[it.get_id(0)] = x[it.get_id(0)] + 1u;
      },
      ndl::range{n}, {}, a, b);
  auto l2 = ndl::call_kernel_async(
      q,
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<unsigned, 1> y, const unsigned* s) {
        y[it.get_id(0)] += s[it.get_id(0)];
      },
      ndl::range{n}, deps({l1.device_event, copied}), b, static_cast<const unsigned*>(scratch.p));
  auto l3 = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<unsigned, 1> y) { y[it.get_id(0)] *= 2u; },
      ndl::range{n}, deps({l2.device_event}), b);
  auto out = b.to_host(deps({l3.device_event}));
  q.wait();
  return out;
}

struct sweep_counts {
  int faults = 0;  // faults injected, each in a fresh run of the workload
  int per_site[ndl::detail::fault_site_count] = {};
};

// Runs the workload once per call of `site`, failing that call; stops at the first run where
// no fault fires (the workload has fewer calls).
void sweep_site(const ndl::queue& q, fault_site site, const runtime_stats& base,
                sweep_counts& counts) {
  const ndl::errc code =
      site == fault_site::alloc ? ndl::errc::out_of_memory : ndl::errc::backend_failure;
  for (int k = 1; k < 100; ++k) {
    SCOPED_TRACE("fault at " + std::string(ndl::detail::to_string(site)) + " call " +
                 std::to_string(k));
    fault_injection::arm(site, static_cast<std::uint64_t>(k));
    bool threw = false;
    try {
      (void)workload(q);
    } catch (const ndl::error& e) {
      threw = true;
      // The failure itself, or a command that depended on it naming it as the cause.
      EXPECT_TRUE(e.code() == code || e.code() == ndl::errc::dependency_failed) << e.what();
      EXPECT_NE(e.message().find(injected(site, k)), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an ndl::error: " << e.what();
    }
    const auto fired = fault_injection::fired(site);
    fault_injection::disarm_all();
    if (fired == 0) {
      EXPECT_FALSE(threw);
      EXPECT_GT(k, 1) << "the workload never calls this site";
      return;
    }
    EXPECT_EQ(fired, 1u);
    EXPECT_TRUE(threw) << "the injected fault did not reach the caller";
    ++counts.faults;
    ++counts.per_site[static_cast<int>(site)];
    ndl_test::drain(q);
    EXPECT_TRUE(back_to(base));
    // The same queue runs the whole workload correctly afterwards.
    try {
      const auto out = workload(q);
      for (size_t i = 0; i < n; ++i)
        if (out[i] != 4u * static_cast<unsigned>(i) + 2u) {
          ADD_FAILURE() << "wrong result after the fault at " << i << ": " << out[i];
          break;
        }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the workload fails after the fault: " << e.what();
    }
    EXPECT_TRUE(back_to(base));
  }
  ADD_FAILURE() << "faults still fire after 99 calls";
}

TEST_P(fault_test, every_call_of_every_site_fails_cleanly_in_turn) {
  sweep_counts counts;
  for (bool in_order : {true, false}) {
    auto q = make_queue(in_order);
    // The workload runs without a fault first.
    const auto clean = workload(q);
    ASSERT_EQ(clean[n - 1], 4u * static_cast<unsigned>(n - 1) + 2u);
    ASSERT_TRUE(back_to(base_));
    for (int s = 0; s < ndl::detail::fault_site_count; ++s)
      sweep_site(q, static_cast<fault_site>(s), base_, counts);
  }
  std::printf(
      "fault sweep: %d faults injected and survived (alloc %d, copy %d, launch %d, "
      "submit %d) over an in-order and an out-of-order queue\n",
      counts.faults, counts.per_site[0], counts.per_site[1], counts.per_site[2],
      counts.per_site[3]);
  RecordProperty("faults_survived", counts.faults);
  // 3 allocations, 4 copies, 3 launches and 7 submissions, on each queue.
  EXPECT_EQ(counts.faults, 2 * (3 + 4 + 3 + 7));
}

INSTANTIATE_TEST_SUITE_P(dev, fault_test, ::testing::ValuesIn(ndl::device::all("cpu")),
                         ndl_test::device_test_name);

// --- NDL_FAULT -------------------------------------------------------------------------------

// Prints one line per operation: "ok" or the error's code and message.
NDL_TEST_PROBE(fault_from_environment) {
  const auto report = [](const char* what, auto&& f) {
    try {
      f();
      std::printf("%s: ok\n", what);
    } catch (const ndl::error& e) {
      std::printf("%s: %s: %s\n", what, std::string(ndl::to_string(e.code())).c_str(),
                  e.message().c_str());
    }
  };
  const ndl::queue q(ndl::device{"cpu"});
  int x = 1, y = 0;
  report("memcpy 1", [&] { q.memcpy(&y, &x, sizeof x); });
  report("memcpy 2", [&] { q.memcpy(&y, &x, sizeof x); });
  report("alloc 1", [&] { ndl::free(ndl::malloc_device<int>(1, q), q); });
  report("alloc 2", [&] { ndl::free(ndl::malloc_device<int>(1, q), q); });
  report("alloc 3", [&] { ndl::free(ndl::malloc_device<int>(1, q), q); });
  report("launch", [&] {
    ndl::call_kernel(
        q, [](ndl::item<1>) {}, ndl::range{1});
  });
  return 0;
}

NDL_TEST_PROBE(fault_from_malformed_environment) {
  try {
    (void)ndl::device::all();
    std::printf("started\n");
  } catch (const ndl::error& e) {
    std::printf("%s: %s\n", std::string(ndl::to_string(e.code())).c_str(), e.message().c_str());
  }
  return 0;
}

TEST(fault_environment_test, ndl_fault_arms_sites_at_runtime_start) {
  const auto r = ndl_test::run_probe("fault_from_environment", {{"NDL_FAULT", "copy:2,alloc:2+"}});
  ASSERT_FALSE(r.timed_out) << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("memcpy 1: ok"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("memcpy 2: backend_failure: memcpy failed on cpu:0: " +
                          injected(fault_site::copy, 2)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("alloc 1: ok"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("alloc 2: out_of_memory: cannot allocate 4 bytes"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("alloc 3: out_of_memory: cannot allocate 4 bytes of device memory on "
                          "cpu:0: " +
                          injected(fault_site::alloc, 3)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("launch: ok"), std::string::npos) << r.output;

  const auto bad = ndl_test::run_probe("fault_from_malformed_environment", {{"NDL_FAULT", "copy"}});
  ASSERT_EQ(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("invalid_argument: NDL_FAULT: malformed fault specification 'copy'"),
            std::string::npos)
      << bad.output;
}

}  // namespace
