// When launches complete (include/ndl/event.hpp, docs/adr/0008-lazy-completion.md): events
// nobody waits for still complete and release their arguments; a command never completes
// before a command it depends on; a synchronous launch completes what came before it; waits
// from many threads at once. On GPUs these exercise the markers that cover several commands.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <ndl/ndl.hpp>
#include <thread>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

class completion_test : public ndl_test::device_test {};

struct add_one {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<int, 1> a) const {
    a[it.get_id(0)] += 1;
  }
};

struct copy_plus_one {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<int, 1> out,
                                ndl::view<const int, 1> in) const {
    out[it.get_id(0)] = in[it.get_id(0)] + 1;
  }
};

// Polls `done` (no wait call) for up to 20 s: the completion must come on its own.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

NDL_TEST_P(completion_test, events_nobody_waits_for_complete_and_release_their_arguments) {
  for (const bool in_order : {true, false}) {
    auto q = make_queue(in_order);
    auto a = ndl::array<int>::zeros({256}, q);
    q.wait();
    ndl::event last;
    for (int k = 0; k < 50; ++k)
      last = ndl::call_kernel_async(q, add_one{}, ndl::range{256}, {last}, a).host_event;
    // Only `a` itself holds its memory once every launch has released it.
    EXPECT_TRUE(eventually([&] { return a.owner().use_count() == 1; })) << "in_order=" << in_order;
    EXPECT_TRUE(eventually([&] { return last.is_complete(); }));
    EXPECT_EQ(a.to_host(), std::vector<int>(256, 50));
  }
}

NDL_TEST_P(completion_test, a_dependent_never_completes_before_its_dependency) {
  for (const bool second_in_order : {true, false}) {
    auto q1 = make_queue(/*in_order=*/true);
    auto q2 = make_queue(second_in_order);
    const size_t n = 1 << 16;
    auto x = ndl::array<int>::zeros({n}, q1);
    auto y = ndl::array<int>::zeros({n}, q2);
    for (int k = 0; k < 20; ++k) {
      auto a = ndl::call_kernel_async(q1, add_one{}, ndl::range{n}, {}, x);
      // Alternate between depending on the device event and on the host event.
      const ndl::event dep = k % 2 ? a.host_event : a.device_event;
      auto b = ndl::call_kernel_async(q2, copy_plus_one{}, ndl::range{n}, {dep}, y, x);
      b.device_event.wait();
      EXPECT_TRUE(a.device_event.is_complete()) << "k=" << k;
      if (k % 2) {
        EXPECT_TRUE(a.host_event.is_complete()) << "k=" << k;
      }
    }
    q2.wait();
    EXPECT_EQ(y.to_host(), std::vector<int>(n, 21)) << "second_in_order=" << second_in_order;
  }
}

NDL_TEST_P(completion_test, a_synchronous_launch_completes_the_launches_before_it) {
  auto q = make_queue(/*in_order=*/true);
  auto a = ndl::array<int>::zeros({1024}, q);
  std::vector<ndl::launch_events> before;
  for (int k = 0; k < 40; ++k)
    before.push_back(ndl::call_kernel_async(q, add_one{}, ndl::range{1024}, {}, a));
  ndl::call_kernel(q, add_one{}, ndl::range{1024}, a);
  for (size_t k = 0; k < before.size(); ++k)
    EXPECT_TRUE(before[k].device_event.is_complete()) << "launch " << k;
  EXPECT_EQ(a.to_host(), std::vector<int>(1024, 41));
}

NDL_TEST_P(completion_test, a_queue_wait_completes_a_burst) {
  auto q = make_queue(/*in_order=*/true);
  auto a = ndl::array<int>::zeros({64}, q);
  std::vector<ndl::event> events;
  for (int k = 0; k < 500; ++k)
    events.push_back(ndl::call_kernel_async(q, add_one{}, ndl::range{64}, {}, a).host_event);
  q.wait();
  for (const auto& e : events)
    EXPECT_TRUE(e.is_complete());
  EXPECT_EQ(a.to_host(), std::vector<int>(64, 500));
}

NDL_TEST_P(completion_test, a_profiling_queue_and_a_plain_queue_depend_on_each_other) {
  auto pq = make_queue(/*in_order=*/true, /*profiling=*/true);
  auto q = make_queue(/*in_order=*/false);
  const size_t n = 1 << 14;
  auto x = ndl::array<int>::zeros({n}, pq);
  auto y = ndl::array<int>::zeros({n}, q);
  ndl::event last;
  for (int k = 0; k < 10; ++k) {
    auto a = ndl::call_kernel_async(pq, add_one{}, ndl::range{n}, {last}, x);
    auto b = ndl::call_kernel_async(q, copy_plus_one{}, ndl::range{n}, {a.device_event}, y, x);
    last = b.device_event;
    b.device_event.wait();
    ASSERT_TRUE(a.device_event.is_complete());
    EXPECT_LE(a.device_event.profiling_start(), a.device_event.profiling_end());
  }
  EXPECT_EQ(y.to_host(), std::vector<int>(n, 11));
}

// Several threads launch on their own queues and on one shared queue, and wait for events
// of each other's launches: every wait returns and every result is right.
NDL_TEST_P(completion_test, many_threads_launch_and_wait_at_once) {
  const int threads = 4, per_thread = 100;
  auto shared = make_queue(/*in_order=*/true);
  auto counter = ndl::array<int>::zeros({1}, shared);
  std::vector<ndl::array<int>> own;
  std::vector<ndl::queue> queues;
  for (int t = 0; t < threads; ++t) {
    queues.push_back(make_queue(t % 2 == 0));
    own.push_back(ndl::array<int>::zeros({128}, queues.back()));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        ndl::event mine;
        for (int k = 0; k < per_thread; ++k) {
          mine = ndl::call_kernel_async(queues[t], add_one{}, ndl::range{128}, {mine}, own[t])
                     .device_event;
          (void)ndl::call_kernel_async(shared, add_one{}, ndl::range{1}, {}, counter);
          if (k % 10 == 9) mine.wait();
        }
        mine.wait();
      } catch (...) {
        failures.fetch_add(1);
      }
    });
  for (auto& th : pool)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  shared.wait();
  EXPECT_EQ(counter.to_host()[0], threads * per_thread);
  for (int t = 0; t < threads; ++t)
    EXPECT_EQ(own[t].to_host(), std::vector<int>(128, per_thread)) << "thread " << t;
}

}  // namespace

namespace {

struct write_all {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, int* buf, int value) const {
    buf[it.get_id(0)] = value;
  }
};
struct copy_all {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, int* out, const int* in) const {
    out[it.get_id(0)] = in[it.get_id(0)];
  }
};

// A command on one device depending on a command on another (every ordered pair of devices
// there are: CPU and GPUs, and two GPUs where there are two): the dependent reads, through
// shared memory, what its dependency wrote, and completes only after it.
NDL_TEST(completion_across_devices_test, a_dependent_on_another_device_runs_and_completes_after) {
  const auto all = ndl::device::all();
  if (all.size() < 2) GTEST_SKIP() << "needs two devices";
  const size_t n = 1 << 20;
  for (const auto& d1 : all)
    for (const auto& d2 : all) {
      if (d1 == d2) continue;
      SCOPED_TRACE(d1.filter_string() + " -> " + d2.filter_string());
      ndl::queue q1(d1), q2(d2, {.in_order = false});
      // Shared memory of a GPU (managed) is visible to the CPU and to every GPU.
      const ndl::queue& mem_q = d1.is_cpu() ? q2 : q1;
      int* buf = ndl::malloc_shared<int>(n, mem_q);
      int* out = ndl::malloc_shared<int>(n, mem_q);
      for (int k = 1; k <= 4; ++k) {
        auto a = ndl::call_kernel_async(q1, write_all{}, ndl::range{n}, {}, buf, k);
        auto b = ndl::call_kernel_async(q2, copy_all{}, ndl::range{n}, {a.device_event}, out, buf);
        b.host_event.wait();
        EXPECT_TRUE(a.device_event.is_complete());
        size_t wrong = 0;
        for (size_t i = 0; i < n; ++i)
          wrong += out[i] != k;
        EXPECT_EQ(wrong, 0u) << "k=" << k;
      }
      ndl::free(buf, mem_q);
      ndl::free(out, mem_q);
    }
}

}  // namespace
