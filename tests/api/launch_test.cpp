// The launcher (include/ndl/launch.hpp): call_kernel and call_kernel_async, argument
// passing, queue inference, kernel failures, argument lifetime, ordering, concurrency and
// blocking from inside kernels.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <ndl/ndl.hpp>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

std::vector<int> iota(ndl::size_t n, int first = 0) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// numba-dpex's `add(item, a, b, c)`: c[i] = b[i] + a[i].
struct add_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const float, 1> a,
                                ndl::view<const float, 1> b, ndl::view<float, 1> c) const {
    const ndl::size_t i = it.get_id(0);
    c[i] = b[i] + a[i];
  }
};

class launch_test : public ndl_test::device_test {};

// --- synchronous and asynchronous launches ---------------------------------------------------

NDL_TEST_P(launch_test, sync_launch_over_ranges_and_nd_ranges) {
  auto q = default_queue();
  constexpr ndl::size_t n = 10000;
  auto a = ndl::array<float>::full({n}, 1.0f, q);
  auto b = ndl::array<float>::full({n}, 2.5f, q);
  auto c = ndl::array<float>::zeros({n}, q);
  ndl::call_kernel(add_kernel{}, ndl::range{n}, a, b, c);
  EXPECT_EQ(c.to_host(), std::vector<float>(n, 3.5f));
  ndl::call_kernel([] NDL_KERNEL_FN(ndl::nd_item<1> it,
                                    ndl::view<float, 1> o) { o[it.get_global_id(0)] *= 2.0f; },
                   ndl::nd_range{{n}, {100}}, c);
  EXPECT_EQ(c.to_host(), std::vector<float>(n, 7.0f));
  // 2-D and 3-D.
  auto m = ndl::array<int, 2>::zeros({37, 53}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> o) {
        o(it.get_id(0), it.get_id(1)) = static_cast<int>(it.get_linear_id());
      },
      m.shape(), m);
  EXPECT_EQ(m.to_host(), iota(37 * 53));
  auto t = ndl::array<int, 3>::zeros({4, 6, 8}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<int, 3> o) {
        o(it.get_global_id(0), it.get_global_id(1), it.get_global_id(2)) =
            static_cast<int>(it.get_global_linear_id());
      },
      ndl::nd_range{{4, 6, 8}, {2, 3, 4}}, t);
  EXPECT_EQ(t.to_host(), iota(4 * 6 * 8));
}

// A synchronous launch has finished when it returns; the next one sees its writes.
NDL_TEST_P(launch_test, consecutive_launches_see_each_others_writes) {
  auto q = default_queue();
  constexpr ndl::size_t n = 50000;
  auto a = ndl::array<std::int64_t>::zeros({n}, q);
  const auto inc = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<std::int64_t, 1> v) {
    v[it.get_id(0)] += static_cast<std::int64_t>(it.get_id(0));
  };
  for (int round = 0; round < 5; ++round)
    ndl::call_kernel(inc, ndl::range{n}, a);
  const auto host = a.to_host();
  for (ndl::size_t i = 0; i < n; ++i)
    ASSERT_EQ(host[i], static_cast<std::int64_t>(5 * i));
}

// test_async_kernel.py::test_async_add
NDL_TEST_P(launch_test, async_add) {
  for (const ndl::queue& q : {default_queue(), make_queue(/*in_order=*/false)}) {
    auto a = ndl::array<float>::full({10}, 1.0f, q);
    auto b = ndl::array<float>::full({10}, 1.0f, q);
    auto c = ndl::array<float>::zeros({10}, q);
    auto [host, devev] = ndl::call_kernel_async(add_kernel{}, ndl::range{10}, {}, a, b, c);
    devev.wait();
    host.wait();
    EXPECT_TRUE(devev.is_complete());
    EXPECT_TRUE(host.is_complete());
    EXPECT_EQ(c.to_host(), std::vector<float>(10, 2.0f)) << q.describe();
  }
}

// test_async_kernel.py::test_async_dependent_add, also on an out-of-order queue where only
// the dependency orders the two launches.
NDL_TEST_P(launch_test, async_dependent_add) {
  for (const ndl::queue& q : {default_queue(), make_queue(/*in_order=*/false)}) {
    constexpr ndl::size_t n = 100000;  // several chunks: a missing dependency shows
    auto a = ndl::array<float>::full({n}, 1.0f, q);
    auto b = ndl::array<float>::full({n}, 1.0f, q);
    auto c = ndl::array<float>::zeros({n}, q);
    auto [host1, dev1] = ndl::call_kernel_async(add_kernel{}, ndl::range{n}, {}, a, b, c);
    auto [host2, dev2] = ndl::call_kernel_async(add_kernel{}, ndl::range{n}, {dev1}, a, c, b);
    dev2.wait();
    EXPECT_TRUE(dev1.is_complete());
    EXPECT_EQ(b.to_host(), std::vector<float>(n, 3.0f)) << q.describe();
    host1.wait();
    host2.wait();
    EXPECT_EQ(c.to_host(), std::vector<float>(n, 2.0f));
  }
}

// A chain of launches each depending on the previous one through an event list of two.
NDL_TEST_P(launch_test, dependency_lists) {
  auto q = make_queue(/*in_order=*/false);
  constexpr ndl::size_t n = 8192;
  auto x = ndl::array<int>::zeros({n}, q);
  auto y = ndl::array<int>::zeros({n}, q);
  const auto bump = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, int by) {
    v[it.get_id(0)] += by;
  };
  const auto sum = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const int, 1> a,
                                    ndl::view<int, 1> o) { o[it.get_id(0)] += a[it.get_id(0)]; };
  ndl::event last_x, last_y;
  for (int round = 0; round < 10; ++round) {
    auto ex = ndl::call_kernel_async(bump, ndl::range{n}, {last_x}, x, 1);
    auto ey = ndl::call_kernel_async(sum, ndl::range{n}, {ex.device_event, last_y}, x, y);
    last_x = ey.device_event;  // x may only change again once y has read it
    last_y = ey.device_event;
  }
  last_y.wait();
  EXPECT_EQ(y.to_host(), std::vector<int>(n, 55));  // 1 + 2 + ... + 10
}

// Dependencies on events of other queues, on host events, and copies ordered after kernels.
NDL_TEST_P(launch_test, dependencies_across_queues) {
  auto q1 = make_queue(/*in_order=*/false);
  auto q2 = make_queue(/*in_order=*/false);
  constexpr ndl::size_t n = 200000;
  auto x = ndl::array<int>::zeros({n}, q1);
  auto y = ndl::array<int>::zeros({n}, q2);
  auto produce = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) {
        v[it.get_id(0)] = static_cast<int>(it.get_id(0) % 1000) + 1;
      },
      ndl::range{n}, {}, x);
  // On q2, after q1's kernel; explicit queue because x lives on q1.
  auto consume = ndl::call_kernel_async(
      q2,
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const int, 1> in, ndl::view<int, 1> out) {
        out[it.get_id(0)] = 2 * in[it.get_id(0)];
      },
      ndl::range{n}, {produce.host_event}, x, y);
  std::vector<int> host(n, 0);
  const ndl::event copy =
      q1.memcpy_async(host.data(), y.data(), n * sizeof(int), {consume.device_event});
  copy.wait();
  for (ndl::size_t i = 0; i < n; ++i)
    ASSERT_EQ(host[i], 2 * (static_cast<int>(i % 1000) + 1)) << i;
  // Array transfers take dependencies too.
  auto back = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] += 1; },
      ndl::range{n}, {}, y);
  const auto y_host = y.to_host({back.device_event});
  for (ndl::size_t i = 0; i < n; ++i)
    ASSERT_EQ(y_host[i], 2 * (static_cast<int>(i % 1000) + 1) + 1) << i;
  q1.wait();
  q2.wait();
}

// --- arguments -------------------------------------------------------------------------------

struct params {
  std::int32_t a;
  double b;
  char c[3];
  float m[4];
  bool flag;
};
static_assert(std::is_trivially_copyable_v<params>);

template <class T>
NDL_KERNEL_FN std::uint64_t bits(T v) {
  if constexpr (std::is_same_v<T, float>)
    return std::bit_cast<std::uint32_t>(v);
  else if constexpr (std::is_same_v<T, double>)
    return std::bit_cast<std::uint64_t>(v);
  else
    return static_cast<std::uint64_t>(v);
}

struct every_scalar_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<std::uint64_t, 1> o, bool b, char c,
                                signed char sc, unsigned char uc, std::int8_t i8, std::uint8_t u8,
                                std::int16_t i16, std::uint16_t u16, std::int32_t i32,
                                std::uint32_t u32, std::int64_t i64, std::uint64_t u64,
                                long long ll, unsigned long long ull, float f, double d,
                                params p) const {
    o[0] = bits(b);
    o[1] = bits(c);
    o[2] = bits(sc);
    o[3] = bits(uc);
    o[4] = bits(i8);
    o[5] = bits(u8);
    o[6] = bits(i16);
    o[7] = bits(u16);
    o[8] = bits(i32);
    o[9] = bits(u32);
    o[10] = bits(i64);
    o[11] = bits(u64);
    o[12] = bits(ll);
    o[13] = bits(ull);
    o[14] = bits(f);
    o[15] = bits(d);
    o[16] = bits(p.a);
    o[17] = bits(p.b);
    o[18] = bits(p.c[0]) | bits(p.c[1]) << 8 | bits(p.c[2]) << 16;
    o[19] = bits(p.m[3]);
    o[20] = bits(p.flag);
  }
};

NDL_TEST_P(launch_test, scalars_of_every_arithmetic_type_and_structs_pass_by_value) {
  auto q = default_queue();
  const params p{-123456, 2.718281828459045, {'x', 'y', 'z'}, {0.5f, 1.5f, 2.5f, -0.0f}, true};
  const float f = std::numeric_limits<float>::denorm_min();
  const double d = -1e-310;
  const std::vector<std::uint64_t> want = {
      1,
      bits('Z'),
      bits(static_cast<signed char>(-100)),
      200,
      bits(std::numeric_limits<std::int8_t>::min()),
      std::numeric_limits<std::uint8_t>::max(),
      bits(std::numeric_limits<std::int16_t>::min()),
      std::numeric_limits<std::uint16_t>::max(),
      bits(std::numeric_limits<std::int32_t>::min()),
      std::numeric_limits<std::uint32_t>::max(),
      bits(std::numeric_limits<std::int64_t>::min()),
      std::numeric_limits<std::uint64_t>::max(),
      bits(-42ll),
      0x8000000000000001ull,
      bits(f),
      bits(d),
      bits(p.a),
      bits(p.b),
      bits('x') | bits('y') << 8 | bits('z') << 16,
      bits(-0.0f),
      1,
  };
  const auto run = [&](auto launch) {
    auto out = ndl::array<std::uint64_t>::zeros({21}, q);
    launch(out);
    EXPECT_EQ(out.to_host(), want);
  };
  // Inferred queue, explicit queue, and both asynchronous forms.
  run([&](const ndl::array<std::uint64_t>& out) {
    ndl::call_kernel(
        every_scalar_kernel{}, ndl::range{1}, out, true, 'Z', static_cast<signed char>(-100),
        static_cast<unsigned char>(200), std::numeric_limits<std::int8_t>::min(),
        std::numeric_limits<std::uint8_t>::max(), std::numeric_limits<std::int16_t>::min(),
        std::numeric_limits<std::uint16_t>::max(), std::numeric_limits<std::int32_t>::min(),
        std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::uint64_t>::max(), -42ll, 0x8000000000000001ull, f, d, p);
  });
  run([&](const ndl::array<std::uint64_t>& out) {
    ndl::call_kernel(
        q, every_scalar_kernel{}, ndl::range{1}, out, true, 'Z', static_cast<signed char>(-100),
        static_cast<unsigned char>(200), std::numeric_limits<std::int8_t>::min(),
        std::numeric_limits<std::uint8_t>::max(), std::numeric_limits<std::int16_t>::min(),
        std::numeric_limits<std::uint16_t>::max(), std::numeric_limits<std::int32_t>::min(),
        std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::uint64_t>::max(), -42ll, 0x8000000000000001ull, f, d, p);
  });
  run([&](const ndl::array<std::uint64_t>& out) {
    ndl::call_kernel_async(
        every_scalar_kernel{}, ndl::range{1}, {}, out, true, 'Z', static_cast<signed char>(-100),
        static_cast<unsigned char>(200), std::numeric_limits<std::int8_t>::min(),
        std::numeric_limits<std::uint8_t>::max(), std::numeric_limits<std::int16_t>::min(),
        std::numeric_limits<std::uint16_t>::max(), std::numeric_limits<std::int32_t>::min(),
        std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::uint64_t>::max(), -42ll, 0x8000000000000001ull, f, d, p)
        .device_event.wait();
  });
  run([&](const ndl::array<std::uint64_t>& out) {
    ndl::call_kernel_async(
        q, every_scalar_kernel{}, ndl::range{1}, {}, out, true, 'Z', static_cast<signed char>(-100),
        static_cast<unsigned char>(200), std::numeric_limits<std::int8_t>::min(),
        std::numeric_limits<std::uint8_t>::max(), std::numeric_limits<std::int16_t>::min(),
        std::numeric_limits<std::uint16_t>::max(), std::numeric_limits<std::int32_t>::min(),
        std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::uint64_t>::max(), -42ll, 0x8000000000000001ull, f, d, p)
        .host_event.wait();
  });
}

// Arrays, views, USM pointers and scalars mixed in one launch.
NDL_TEST_P(launch_test, arrays_views_pointers_and_scalars_mix) {
  auto q = default_queue();
  constexpr ndl::size_t n = 300;
  auto a = ndl::array<double>::from_host(std::vector<double>(n, 1.5), q);
  auto b = ndl::array<double, 2>::zeros({n, 2}, q);
  int* p = ndl::malloc_device<int>(n, q);
  q.fill(p, 4, n);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, char tag, ndl::view<const double, 1> in, short s,
                       ndl::view<double, 2> out, const int* ptr, ndl::view<double, 1> col) {
        const ndl::size_t i = it.get_id(0);
        out(i, 0) = in[i] * s + ptr[i];
        col[i] = tag;
      },
      ndl::range{n}, 'A', a, short{3}, b, static_cast<const int*>(p), b(ndl::all, 1).get_view());
  const auto host = b.to_host();
  for (ndl::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(host[2 * i], 1.5 * 3 + 4);
    ASSERT_EQ(host[2 * i + 1], 65.0);
  }
  ndl::free(p, q);
}

// Arguments are copied when the launch is submitted.
NDL_TEST_P(launch_test, async_arguments_are_captured_at_submission) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  auto out = ndl::array<int>::zeros({3}, q);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  int scalar = 7;
  params p{1, 2.0, {'a', 'b', 'c'}, {}, false};
  auto view = out.get_view();
  auto [host, devev] = ndl::call_kernel_async(
      q, ndl::cpu_only([g](ndl::item<1>, ndl::view<int, 1> o, int s, params pp) {
        g->pass();
        o[0] = s;
        o[1] = pp.a;
        o[2] = pp.c[2];
      }),
      ndl::range{1}, {}, view, scalar, p);
  ASSERT_TRUE(g->wait_arrived(1));
  scalar = -1;
  p.a = -1;
  p.c[2] = 'q';
  view = ndl::view<int, 1>();
  g->open();
  devev.wait();
  EXPECT_EQ(out.to_host(), (std::vector<int>{7, 1, 'c'}));
}

// --- queues: explicit, inferred, default ------------------------------------------------------

NDL_TEST_P(launch_test, explicit_queue_may_use_arrays_of_another_queue_on_the_same_device) {
  auto q1 = make_queue();
  auto q2 = make_queue(/*in_order=*/false);
  auto a = ndl::array<float>::full({64}, 1.0f, q1);
  auto b = ndl::array<float>::full({64}, 2.0f, q1);
  auto c = ndl::array<float>::zeros({64}, q1);
  ndl::call_kernel(q2, add_kernel{}, ndl::range{64}, a, b, c);
  EXPECT_EQ(c.to_host(), std::vector<float>(64, 3.0f));
  auto [host, devev] = ndl::call_kernel_async(q2, add_kernel{}, ndl::range{64}, {}, c, b, a);
  ndl::wait({host, devev});
  EXPECT_EQ(a.to_host(), std::vector<float>(64, 5.0f));
}

NDL_TEST_P(launch_test, arrays_on_different_queues_cannot_infer_a_queue) {
  auto q1 = make_queue();
  auto q2 = make_queue();
  auto a = ndl::array<float>::full({8}, 1.0f, q1);
  auto b = ndl::array<float>::full({8}, 1.0f, q2);
  auto c = ndl::array<float>::zeros({8}, q1);
  const auto k = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const float, 1> x, int s,
                                  ndl::view<const float, 1> y, ndl::view<float, 1> z) {
    z[it.get_id(0)] = x[it.get_id(0)] + y[it.get_id(0)] + static_cast<float>(s);
  };
  const std::string msg =
      ndl_test::error_message([&] { ndl::call_kernel(k, ndl::range{8}, a, 5, b, c); });
  EXPECT_TRUE(ndl_test::throws_error(
      [&] { ndl::call_kernel(k, ndl::range{8}, a, 5, b, c); }, ndl::errc::queue_inference,
      {"argument 0", "argument 2", "argument 3", q1.describe(), q2.describe()}))
      << msg;
  // Each argument is paired with its own queue.
  EXPECT_NE(msg.find("argument 2 (ndl::array<float, 1>) is on " + q2.describe()), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("argument 0 (ndl::array<float, 1>) is on " + q1.describe()), std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("argument 1"), std::string::npos) << "scalars have no queue: " << msg;
  // The named kernel appears in the message.
  EXPECT_TRUE(ndl_test::throws_error(
      [&] { ndl::call_kernel_async(add_kernel{}, ndl::range{8}, {}, a, b, c); },
      ndl::errc::queue_inference, {"add_kernel", "argument 1"}));
  // Nothing ran.
  EXPECT_EQ(c.to_host(), std::vector<float>(8, 0.0f));
  // With the queue given explicitly, the same launch is fine.
  ndl::call_kernel(q1, k, ndl::range{8}, a, 5, b, c);
  EXPECT_EQ(c.to_host(), std::vector<float>(8, 7.0f));
}

// Arrays that share a queue but were made through different handles infer that queue.
NDL_TEST_P(launch_test, arrays_on_copies_of_one_queue_infer_it) {
  auto q = make_queue(/*in_order=*/false);
  const ndl::queue copy = q;
  auto a = ndl::array<float>::full({8}, 1.0f, q);
  auto b = ndl::array<float>::full({8}, 2.0f, copy);
  auto c = ndl::array<float>::zeros({8}, q);
  ndl::call_kernel(add_kernel{}, ndl::range{8}, a, b, c);
  EXPECT_EQ(c.to_host(), std::vector<float>(8, 3.0f));
}

NDL_TEST_P(launch_test, explicit_queue_on_another_device_than_an_array_is_refused) {
  ndl::device other = dev();
  for (const auto& d : ndl::device::all())
    if (!(d == dev())) other = d;
  NDL_SKIP_UNLESS(!(other == dev()), "needs a second device");
  auto a = ndl::array<float>::zeros({8}, default_queue());
  const ndl::queue there = ndl::queue::default_queue(other);
  NDL_EXPECT_ERROR(
      ndl::call_kernel(
          there, [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<float, 1>) {}, ndl::range{8}, a),
      ndl::errc::invalid_argument, "argument 0", dev().filter_string(), other.filter_string());
}

// A launch without array arguments runs on the default queue: it queues behind a kernel
// blocked on the default queue, even while another thread is helping to run work.
NDL_TEST(launch_default_queue_test, launch_without_arrays_uses_the_default_queue) {
  const ndl::queue q = ndl::queue::default_queue();
  if (!q.get_device().is_cpu()) GTEST_SKIP() << "needs host kernels on the default device";
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto blocker =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  ASSERT_TRUE(g->wait_arrived(1));
  auto [host, devev] = ndl::call_kernel_async(
      ndl::cpu_only([ran](ndl::item<1>, int v) { ran->store(v); }), ndl::range{1}, {}, 5);
  std::thread helper([e = devev] { e.wait(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(ran->load(), 0) << "the launch did not queue behind the default queue's kernel";
  g->open();
  helper.join();
  EXPECT_EQ(ran->load(), 5);
  host.wait();
  EXPECT_EQ(g->timeouts.load(), 0);
}

NDL_TEST_P(launch_test, launch_without_arrays_runs_with_pointers) {
  const ndl::queue q = ndl::queue::default_queue();
  constexpr ndl::size_t n = 100;
  int* p = ndl::malloc_device<int>(n, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, int* out, int v) {
        out[it.get_id(0)] = v + static_cast<int>(it.get_id(0));
      },
      ndl::range{n}, p, 10);
  std::vector<int> host(n);
  q.memcpy(host.data(), p, n * sizeof(int));
  EXPECT_EQ(host, iota(n, 10));
  ndl::free(p, q);
}

// --- kernel failures -------------------------------------------------------------------------

struct failing_kernel {
  void operator()(ndl::item<2> it, ndl::view<int, 2> v) const {
    if (it.get_id(0) == 3 && it.get_id(1) == 4) throw std::runtime_error("bad cell");
    v(it.get_id(0), it.get_id(1)) = 1;
  }
};

struct failing_nd_kernel {
  void operator()(ndl::nd_item<2> it) const {
    if (it.get_global_id(0) == 5 && it.get_global_id(1) == 6)
      throw std::out_of_range("bad nd cell");
  }
};

struct failing_3d_kernel {
  void operator()(ndl::item<3> it) const {
    if (it.get_id(0) == 1 && it.get_id(1) == 2 && it.get_id(2) == 3) throw 42;
  }
};

NDL_TEST_P(launch_test, kernel_exceptions_name_the_kernel_and_the_work_item) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = default_queue();
  auto a = ndl::array<int, 2>::zeros({5, 6}, q);
  NDL_EXPECT_ERROR(ndl::call_kernel(ndl::cpu_only(failing_kernel{}), ndl::range{5, 6}, a),
                   ndl::errc::kernel_failure, "failing_kernel", "(3, 4)", "bad cell");
  NDL_EXPECT_ERROR(
      ndl::call_kernel(q, ndl::cpu_only(failing_nd_kernel{}), ndl::nd_range{{8, 8}, {4, 4}}),
      ndl::errc::kernel_failure, "failing_nd_kernel", "(5, 6)", "bad nd cell");
  NDL_EXPECT_ERROR(ndl::call_kernel(q, ndl::cpu_only(failing_3d_kernel{}), ndl::range{2, 3, 4}),
                   ndl::errc::kernel_failure, "failing_3d_kernel", "(1, 2, 3)",
                   "not derived from std::exception");
  // Asynchronously: both events carry the error.
  auto [host, devev] =
      ndl::call_kernel_async(ndl::cpu_only(failing_kernel{}), ndl::range{5, 6}, {}, a);
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "failing_kernel", "(3, 4)");
  NDL_EXPECT_ERROR(host.wait(), ndl::errc::kernel_failure, "failing_kernel", "(3, 4)");
  // The queue keeps working, and the failure is not reported twice.
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> v) { v(it.get_id(0), it.get_id(1)) = 2; },
      ndl::range{5, 6}, a);
  EXPECT_EQ(a.to_host(), std::vector<int>(30, 2));
  EXPECT_NO_THROW(q.wait());
}

// Only the first failure is reported when many work-items throw, and the launch stops.
NDL_TEST_P(launch_test, many_failing_work_items_report_one_error) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  auto count = std::make_shared<std::atomic<long>>(0);
  constexpr ndl::size_t n = 1 << 22;
  const std::string msg = ndl_test::error_message([&] {
    ndl::call_kernel(q, ndl::cpu_only([count](ndl::item<1>) {
                       count->fetch_add(1, std::memory_order_relaxed);
                       throw std::runtime_error("every one");
                     }),
                     ndl::range{n});
  });
  EXPECT_NE(msg.find("every one"), std::string::npos);
  // Each chunk stops at its first failing work-item.
  EXPECT_LT(count->load(), static_cast<long>(n / 4)) << "the launch was not cancelled";
  EXPECT_NO_THROW(q.wait());
}

// ndl::named gives a kernel the name error messages use.
NDL_TEST_P(launch_test, named_kernels) {
  auto q = default_queue();
  auto a = ndl::array<int>::zeros({16}, q);
  ndl::call_kernel(
      ndl::named("fill_sevens",
                 [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 7; }),
      ndl::range{16}, a);
  EXPECT_EQ(a.to_host(), std::vector<int>(16, 7));
  auto [host, devev] = ndl::call_kernel_async(
      q,
      ndl::named("add_one",
                 [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] += 1; }),
      ndl::range{16}, {}, a);
  ndl::wait({host, devev});
  EXPECT_EQ(a.to_host(), std::vector<int>(16, 8));
  auto b = ndl::array<int>::zeros({16}, make_queue());
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel(ndl::named("two_queues", [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1>,
                                                                   ndl::view<int, 1>) {}),
                         ndl::range{16}, a, b);
      },
      ndl::errc::queue_inference, {"kernel 'two_queues'"}));
}

NDL_TEST_P(launch_test, named_kernel_failures_use_the_name) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const auto failing = ndl::named("explodes_at_three", ndl::cpu_only([](ndl::item<1> it) {
                                    if (it.get_id(0) == 3) throw std::runtime_error("kaboom");
                                  }));
  NDL_EXPECT_ERROR(ndl::call_kernel(default_queue(), failing, ndl::range{8}),
                   ndl::errc::kernel_failure, "kernel 'explodes_at_three'", "(3)", "kaboom");
  auto [host, devev] = ndl::call_kernel_async(default_queue(), failing, ndl::range{8}, {});
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "kernel 'explodes_at_three'");
  auto q = make_queue(/*in_order=*/false);
  auto dependent = ndl::call_kernel_async(
      q, ndl::named("never_runs", [] NDL_KERNEL_FN(ndl::item<1>) {}), ndl::range{1}, {devev});
  NDL_EXPECT_ERROR(dependent.device_event.wait(), ndl::errc::dependency_failed,
                   "kernel 'never_runs'", "explodes_at_three");
}

// --- lifetime --------------------------------------------------------------------------------

// The caller drops every array, the kernel object and both events while the kernel is still
// blocked: nothing may be freed before the kernel is done (ASan checks the accesses).
NDL_TEST_P(launch_test, async_launch_keeps_dropped_arguments_alive) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);  // nothing but the launch orders the release
  constexpr ndl::size_t n = 5000;
  int* result = ndl::malloc_device<int>(n, q);
  std::weak_ptr<const void> wa, wb;
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  {
    auto a = ndl::array<int>::from_host(iota(n), q);
    auto b = ndl::array<int>::zeros({n}, q);
    wa = a.owner();
    wb = b(ndl::slice(1, static_cast<std::ptrdiff_t>(n), 1)).owner();
    const int bias = 5;
    auto kernel = ndl::cpu_only(
        [g, bias](ndl::item<1> it, ndl::view<const int, 1> in, ndl::view<int, 1> tmp, int* res) {
          const ndl::size_t i = it.get_id(0);
          if (i == 0) g->pass();
          tmp[i] = in[i] * 2 + bias;
          res[i] = tmp[i] + 1;
        });
    ndl::call_kernel_async(kernel, ndl::range{n}, {}, a, b, result);
  }  // arrays, kernel object and events are gone
  ASSERT_TRUE(g->wait_arrived(1));
  EXPECT_FALSE(wa.expired()) << "an argument was released while its kernel runs";
  EXPECT_FALSE(wb.expired()) << "an argument was released while its kernel runs";
  // Churn the allocator: memory freed too early would likely be handed out again here.
  std::vector<ndl::array<int>> churn;
  for (int i = 0; i < 4; ++i)
    churn.push_back(ndl::array<int>::full({n}, -1000, q));
  g->open();
  q.wait();
  EXPECT_TRUE(wa.expired()) << "the launch kept its arguments after completing";
  EXPECT_TRUE(wb.expired());
  std::vector<int> host(n);
  q.memcpy(host.data(), result, n * sizeof(int));
  for (ndl::size_t i = 0; i < n; ++i)
    ASSERT_EQ(host[i], static_cast<int>(2 * i + 6)) << i;
  for (auto& c : churn)
    EXPECT_EQ(c.to_host(), std::vector<int>(n, -1000));
  ndl::free(result, q);
  EXPECT_EQ(g->timeouts.load(), 0);
}

// The device event completes when the kernel has; the host event after it, once the launch
// released its arguments.
NDL_TEST_P(launch_test, host_event_completes_after_the_arguments_are_released) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  std::weak_ptr<const void> weak;
  ndl::launch_events ev;
  {
    auto a = ndl::array<int>::zeros({16}, q);
    weak = a.owner();
    ev = ndl::call_kernel_async(ndl::cpu_only([g](ndl::item<1> it, ndl::view<int, 1> v) {
                                  if (it.get_id(0) == 0) g->pass();
                                  v[it.get_id(0)] = 1;
                                }),
                                ndl::range{16}, {}, a);
  }
  ASSERT_TRUE(g->wait_arrived(1));
  EXPECT_FALSE(ev.device_event.is_complete());
  EXPECT_FALSE(ev.host_event.is_complete());
  EXPECT_FALSE(weak.expired());
  g->open();
  ev.host_event.wait();
  EXPECT_TRUE(ev.device_event.is_complete()) << "host event before the device event";
  EXPECT_TRUE(weak.expired()) << "host event complete while an argument is still held";
}

// dpctl#2359: on an in-order queue a launch with no dependencies still waits for the command
// before it, and keeps its arguments until it has run.
NDL_TEST_P(launch_test, in_order_launch_without_dependencies_keeps_its_arguments) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  constexpr ndl::size_t n = 64;
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  int* res = ndl::malloc_device<int>(n, q);
  auto x = ndl::array<int>::from_host(iota(n), q);
  std::weak_ptr<const void> wx = x.owner();
  auto first =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  ASSERT_TRUE(g->wait_arrived(1));
  auto second = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const int, 1> in, int* out) {
        out[it.get_id(0)] = in[it.get_id(0)] + 1;
      },
      ndl::range{n}, {}, x, res);
  x = ndl::array<int>();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(second.device_event.is_complete()) << "ran before the command before it";
  EXPECT_FALSE(second.host_event.is_complete()) << "released before running";
  EXPECT_FALSE(wx.expired()) << "the argument was released before the kernel ran";
  g->open();
  second.host_event.wait();
  EXPECT_TRUE(first.device_event.is_complete());
  EXPECT_TRUE(wx.expired());
  std::vector<int> host(n);
  q.memcpy(host.data(), res, n * sizeof(int));
  EXPECT_EQ(host, iota(n, 1));
  ndl::free(res, q);
}

// --- several host threads --------------------------------------------------------------------

// Four threads submit 200 launches each to one in-order queue: the launches run one at a
// time (no race on the counter) and each thread's launches in its submission order.
NDL_TEST_P(launch_test, threads_sharing_an_in_order_queue_keep_their_order) {
  auto q = make_queue(/*in_order=*/true);
  constexpr int threads = 4, per_thread = 200, total = threads * per_thread;
  int* counter = ndl::malloc_device<int>(1, q);
  int* log = ndl::malloc_device<int>(total, q);
  q.fill(counter, 0, 1);
  q.fill(log, -1, total);
  const auto append = [] NDL_KERNEL_FN(ndl::item<1>, int* c, int* l, int tag) {
    l[*c] = tag;
    *c += 1;
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (i % 4 == 3)  // some synchronous launches in between
          ndl::call_kernel(q, append, ndl::range{1}, counter, log, t * 1000 + i);
        else
          ndl::call_kernel_async(q, append, ndl::range{1}, {}, counter, log, t * 1000 + i);
      }
    });
  for (auto& th : pool)
    th.join();
  q.wait();
  std::vector<int> host(total);
  int count = 0;
  q.memcpy(host.data(), log, sizeof(int) * total);
  q.memcpy(&count, counter, sizeof(int));
  EXPECT_EQ(count, total);
  std::vector<int> next(threads, 0);
  for (int tag : host) {
    ASSERT_GE(tag, 0) << "a launch was lost or two ran at once";
    const int t = tag / 1000, i = tag % 1000;
    ASSERT_LT(t, threads);
    ASSERT_EQ(i, next[static_cast<size_t>(t)]) << "thread " << t << "'s launches out of order";
    ++next[static_cast<size_t>(t)];
  }
  ndl::free(counter, q);
  ndl::free(log, q);
}

// Four threads, each with its own in-order queue and arrays, 200 dependent launches each.
NDL_TEST_P(launch_test, threads_with_private_queues) {
  constexpr int threads = 4, per_thread = 200;
  std::vector<std::vector<int>> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const ndl::queue q(dev());
      auto arr = ndl::array<int>::zeros({per_thread}, q);
      for (int i = 0; i < per_thread; ++i)
        ndl::call_kernel_async(
            [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> v, int k, int add) {
              v[static_cast<ndl::size_t>(k)] =
                  (k == 0 ? 0 : v[static_cast<ndl::size_t>(k - 1)]) + add;
            },
            ndl::range{1}, {}, arr, i, t + 1);
      results[static_cast<size_t>(t)] = arr.to_host();
    });
  for (auto& th : pool)
    th.join();
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i)
      ASSERT_EQ(results[static_cast<size_t>(t)][static_cast<size_t>(i)], (i + 1) * (t + 1))
          << "thread " << t << " launch " << i;
}

// Four threads submitting to one out-of-order queue, and synchronous launches from all.
NDL_TEST_P(launch_test, threads_sharing_an_out_of_order_queue) {
  auto q = make_queue(/*in_order=*/false);
  constexpr int threads = 4, per_thread = 100;
  auto out = ndl::array<int, 2>::zeros({threads, per_thread}, q);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto row = out(t, ndl::all);
      for (int i = 0; i < per_thread; ++i) {
        const auto k = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> r, int at, int v) {
          r[static_cast<ndl::size_t>(at)] = v;
        };
        if (i % 2)
          ndl::call_kernel(k, ndl::range{1}, row, i, t * 1000 + i);
        else
          ndl::call_kernel_async(k, ndl::range{1}, {}, row, i, t * 1000 + i);
      }
    });
  for (auto& th : pool)
    th.join();
  q.wait();
  const auto host = out.to_host();
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i)
      ASSERT_EQ(host[static_cast<size_t>(t * per_thread + i)], t * 1000 + i);
}

// --- blocking inside kernels -----------------------------------------------------------------

// Every worker is inside a kernel that waits for a launch submitted later: the waits must
// run that launch instead of deadlocking the pool. The test thread only polls, so any
// progress comes from the blocked workers themselves.
NDL_TEST_P(launch_test, kernels_waiting_for_another_launch_do_not_deadlock) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  struct shared_state {
    ndl_test::gate ready;
    ndl::event target;
    std::atomic<int> finished{0};
    std::atomic<int> errors{0};
  };
  auto st = std::make_shared<shared_state>();
  auto qa = make_queue(/*in_order=*/false);
  auto qb = make_queue(/*in_order=*/false);
  // Allocated first: a blocking fill would let this thread run (and block in) a waiter.
  constexpr ndl::size_t n = 100000;
  auto out = ndl::array<int>::zeros({n}, qb);
  const int blockers = static_cast<int>(dev().compute_units()) + 1;
  std::vector<ndl::launch_events> waits;
  for (int i = 0; i < blockers; ++i)
    waits.push_back(ndl::call_kernel_async(qa, ndl::cpu_only([st](ndl::item<1>) {
                                             if (!st->ready.pass()) return;
                                             try {
                                               st->target.wait();
                                             } catch (...) {
                                               st->errors.fetch_add(1);
                                             }
                                             st->finished.fetch_add(1);
                                           }),
                                           ndl::range{1}, {}));
  ASSERT_TRUE(st->ready.wait_arrived(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let every worker block
  auto target = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 1; },
      ndl::range{n}, {}, out);
  st->target = target.device_event;
  st->ready.open();
  const bool done = ndl_test::spin_until([&] {
    for (const auto& w : waits)
      if (!w.device_event.is_complete()) return false;
    return true;
  });
  EXPECT_TRUE(done) << "kernels waiting on another launch deadlocked the pool";
  if (!done) ndl_test::drain(qb);  // rescue: let this thread run the work
  ndl_test::drain(qa);
  EXPECT_EQ(st->finished.load(), blockers);
  EXPECT_EQ(st->errors.load(), 0);
  EXPECT_EQ(st->ready.timeouts.load(), 0);
  EXPECT_EQ(out.to_host(), std::vector<int>(n, 1));
}

// A kernel may launch (and wait for) other kernels on another queue.
NDL_TEST_P(launch_test, kernels_may_launch_kernels) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto outer_q = make_queue(/*in_order=*/false);
  auto inner_q = make_queue(/*in_order=*/false);
  constexpr ndl::size_t rows = 8, cols = 3000;
  auto m = ndl::array<int, 2>::zeros({rows, cols}, inner_q);
  ndl::call_kernel(outer_q, ndl::cpu_only([m](ndl::item<1> it) {
                     auto row = m(it.get_id(0), ndl::all);
                     ndl::call_kernel([] NDL_KERNEL_FN(ndl::item<1> jt, ndl::view<int, 1> r,
                                                       int v) { r[jt.get_id(0)] = v; },
                                      row.shape(), row, static_cast<int>(it.get_id(0)));
                   }),
                   ndl::range{rows});
  const auto host = m.to_host();
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j)
      ASSERT_EQ(host[i * cols + j], static_cast<int>(i));
}

// --- child-process scenarios -----------------------------------------------------------------

// The program ends right after an asynchronous launch, without waiting: the work completes
// before the runtime goes away, the arrays it holds stay valid, nothing crashes.
NDL_TEST_PROBE(exit_with_work_in_flight) {
  {
    auto a = ndl::array<int>::zeros({1000});
    ndl::call_kernel_async(ndl::cpu_only([](ndl::item<1> it, ndl::view<int, 1> v) {
                             if (it.get_id(0) == 0) {
                               std::this_thread::sleep_for(std::chrono::milliseconds(100));
                               v[0] = 1;
                               std::printf("kernel done\n");
                             }
                           }),
                           ndl::range{1000}, {}, a);
  }
  std::printf("main returns\n");
  std::exit(0);
}

// The program ends with a failed command nobody waited for: it is reported on stderr.
NDL_TEST_PROBE(exit_with_unobserved_error) {
  ndl::call_kernel_async(ndl::queue{}, ndl::cpu_only([](ndl::item<1>) {
                           throw std::runtime_error("unobserved at exit");
                         }),
                         ndl::range{1}, {});
  std::exit(0);
}

// With one CPU thread, a kernel waiting for another launch still completes.
NDL_TEST_PROBE(single_thread_nested_wait) {
  auto st = std::make_shared<ndl_test::gate>();
  auto target = std::make_shared<ndl::event>();
  auto qa = ndl::queue(ndl::device{"cpu"}, {.in_order = false});
  auto qb = ndl::queue(ndl::device{"cpu"}, {.in_order = false});
  auto outer = ndl::call_kernel_async(qa, ndl::cpu_only([st, target](ndl::item<1>) {
                                        if (st->pass()) target->wait();
                                      }),
                                      ndl::range{1}, {});
  st->wait_arrived(1);
  auto out = ndl::array<int>::zeros({5000}, qb);
  *target = ndl::call_kernel_async(
                [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 2; },
                ndl::range{5000}, {}, out)
                .device_event;
  st->open();
  const bool done = ndl_test::spin_until([&] { return outer.device_event.is_complete(); });
  std::printf("compute_units %u %s\n", ndl::device{"cpu"}.compute_units(),
              done ? "completed" : "deadlocked");
  if (!done) return 1;
  int sum = 0;
  for (int v : out.to_host())
    sum += v;
  std::printf("sum %d\n", sum);
  return 0;
}

NDL_TEST(launch_process_test, exit_with_work_in_flight_completes_the_work) {
  if (!ndl::device{}.is_cpu()) GTEST_SKIP() << "the scenario's kernel is host-only";
  const auto r = ndl_test::run_probe("exit_with_work_in_flight", {});
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto main_at = r.output.find("main returns"), kernel_at = r.output.find("kernel done");
  EXPECT_NE(main_at, std::string::npos) << r.output;
  EXPECT_NE(kernel_at, std::string::npos) << "the kernel did not complete\n" << r.output;
}

NDL_TEST(launch_process_test, exit_with_an_unobserved_error_reports_it) {
  if (!ndl::device{}.is_cpu()) GTEST_SKIP() << "the scenario's kernel is host-only";
  const auto r = ndl_test::run_probe("exit_with_unobserved_error", {});
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_NE(r.output.find("unobserved at exit"), std::string::npos) << r.output;
}

NDL_TEST(launch_process_test, single_cpu_thread_does_not_deadlock_nested_waits) {
  const auto r = ndl_test::run_probe("single_thread_nested_wait", {{"NDL_CPU_THREADS", "1"}});
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("compute_units 1 completed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sum 10000"), std::string::npos) << r.output;
}

}  // namespace
