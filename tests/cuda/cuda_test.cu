// CUDA-only behaviour and CPU-versus-GPU differential tests. Every test runs on each CUDA
// device and compares with the CPU device running the same kernel; without a GPU (CI) each
// test skips and says why.
//
// Kernels are functors at namespace scope or extended lambdas in free functions: nvcc does
// not accept extended lambdas inside GoogleTest bodies (a private member function).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ndl/ndl.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace ndl_test {
void launch_from_host_compiled_file(const ndl::queue& q, ndl::array<int, 1>& a);
}

namespace {

std::vector<ndl::device> gpus() {
  std::vector<ndl::device> out;
  for (const auto& d : ndl::device::all())
    if (d.is_gpu()) out.push_back(d);
  return out;
}

#define NDL_REQUIRE_GPU()                                                               \
  if (gpus().empty())                                                                   \
  GTEST_SKIP() << "no CUDA device: this machine has no NVIDIA GPU or driver (the CUDA " \
                  "backend was built and reports no devices); run the suite on a GPU host"

ndl::queue cpu_queue() {
  return ndl::queue::default_queue(ndl::device{"cpu"});
}

// --- kernels --------------------------------------------------------------------------------

struct iota3 {
  NDL_KERNEL_FN void operator()(ndl::item<3> it, ndl::view<std::int64_t, 3> o) const {
    o(it.get_id(0), it.get_id(1), it.get_id(2)) =
        static_cast<std::int64_t>(it.get_linear_id()) * 3 + static_cast<std::int64_t>(it.get_id(1));
  }
};

struct nd_ids {
  NDL_KERNEL_FN void operator()(ndl::nd_item<3> it, ndl::view<std::int64_t, 3> o) const {
    const auto g = it.get_group();
    o(it.get_global_id(0), it.get_global_id(1), it.get_global_id(2)) =
        static_cast<std::int64_t>(g.get_group_linear_id() * 1000 + it.get_local_linear_id());
  }
};

constexpr ndl::size_t tile = 16;

// Tiled matmul: two local tiles, two barriers per step (numba-dpex's example).
struct tiled_matmul {
  NDL_KERNEL_FN void operator()(ndl::nd_item<2> it, ndl::view<const float, 2> a,
                                ndl::view<const float, 2> b, ndl::view<float, 2> c,
                                ndl::local_accessor<float, 2> ta,
                                ndl::local_accessor<float, 2> tb) const {
    const auto i = it.get_global_id(0), j = it.get_global_id(1);
    const auto li = it.get_local_id(0), lj = it.get_local_id(1);
    const auto n = a.shape()[1];
    float sum = 0;
    for (ndl::size_t t = 0; t < n; t += tile) {
      ta(li, lj) = a(i, t + lj);
      tb(li, lj) = b(t + li, j);
      ndl::group_barrier(it.get_group());
      for (ndl::size_t k = 0; k < tile; ++k)
        sum += ta(li, k) * tb(k, lj);
      ndl::group_barrier(it.get_group());
    }
    c(i, j) = sum;
  }
};

struct atomics_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const int, 1> in, ndl::view<int, 1> hist,
                                ndl::view<float, 1> fsum, ndl::view<int, 1> mm,
                                ndl::view<double, 1> dmm,
                                ndl::view<unsigned long long, 1> bits) const {
    const int v = in[it.get_id(0)];
    const auto u = static_cast<unsigned>(v + 1000);  // inputs are >= -500
    ndl::atomic_ref<int>(hist[u % 16]).fetch_add(1);
    ndl::atomic_ref<float>(fsum[0]).fetch_add(0.5f);
    ndl::atomic_ref<int>(mm[0]).fetch_min(v);
    ndl::atomic_ref<int>(mm[1]).fetch_max(v);
    ndl::atomic_ref<double>(dmm[0]).fetch_min(static_cast<double>(v) / 7.0);
    ndl::atomic_ref<double>(dmm[1]).fetch_max(static_cast<double>(v) / 7.0);
    ndl::atomic_ref<unsigned long long>(bits[0]).fetch_or(1ull << (u % 64));
    ndl::atomic_ref<unsigned long long>(bits[1]).fetch_xor(1ull << (u % 64));
    // A compare-exchange loop that counts.
    ndl::atomic_ref<int> counter(mm[2]);
    int seen = counter.load();
    while (!counter.compare_exchange(seen, seen + 1)) {
    }
  }
};

// Local-memory atomics and a work-group reduction through local memory.
struct group_sum {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<const int, 1> in,
                                ndl::view<long long, 1> out,
                                ndl::local_accessor<int, 1> acc) const {
    if (it.get_local_id(0) == 0) acc[0] = 0;
    ndl::group_barrier(it.get_group());
    ndl::atomic_ref<int, ndl::memory_order::relaxed, ndl::memory_scope::work_group,
                    ndl::address_space::local_space>(acc[0])
        .fetch_add(in[it.get_global_id(0)]);
    ndl::group_barrier(it.get_group());
    if (it.get_local_id(0) == 0)
      ndl::atomic_ref<long long>(out[0]).fetch_add(static_cast<long long>(acc[0]));
  }
};

struct scale_strided {
  NDL_KERNEL_FN void operator()(ndl::item<2> it, ndl::view<int, 2> v, int k) const {
    v(it.get_id(0), it.get_id(1)) = v(it.get_id(0), it.get_id(1)) * k + 1;
  }
};

struct count_items {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<unsigned long long, 1> out) const {
    const auto i = it.get_id(0);
    if (i % 4096 == 0) ndl::atomic_ref<unsigned long long>(out[0]).fetch_add(1);
    if (i == it.get_range(0) - 1) out[1] = i;
  }
};

struct add_one {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> v) const {
    v[it.get_id(0)] += 1.0f;
  }
};

struct twice_into {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const float, 1> in,
                                ndl::view<float, 1> out) const {
    out[it.get_id(0)] = 2.0f * in[it.get_id(0)];
  }
};

struct write_through_pointer {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, int* p) const { p[it.get_id(0) * 1024] = 1; }
};

struct big_local {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<float, 1> out,
                                ndl::local_accessor<float, 1> acc) const {
    const auto n = acc.size();
    for (ndl::size_t k = it.get_local_id(0); k < n; k += it.get_local_range(0))
      acc[k] = static_cast<float>(k);
    ndl::group_barrier(it.get_group());
    if (it.get_local_id(0) == 0) out[it.get_group().get_group_id(0)] = acc[n - 1];
  }
};

template <class T, int D>
std::vector<T> run_on(const ndl::queue& q, ndl::range<D> shape, auto launch) {
  auto a = ndl::array<T, D>::zeros(shape, q);
  launch(q, a);
  return a.to_host();
}

// An extended lambda: defined in a free function, as nvcc requires.
std::vector<int> lambda_launch(const ndl::queue& q, ndl::size_t n, int k) {
  auto a = ndl::array<int>::zeros({n}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, int m) {
        v[it.get_id(0)] = static_cast<int>(it.get_id(0)) * m;
      },
      ndl::range{n}, a, k);
  return a.to_host();
}

// --- tests ----------------------------------------------------------------------------------

TEST(cuda_device_test, gpus_are_listed_with_limits_from_the_driver) {
  NDL_REQUIRE_GPU();
  for (const auto& g : gpus()) {
    EXPECT_EQ(g.backend(), ndl::backend_kind::cuda);
    EXPECT_EQ(g.filter_string().rfind("cuda:", 0), 0u);
    EXPECT_GE(g.max_work_group_size(), 1024u);
    EXPECT_GE(g.local_memory_bytes(), 48u * 1024);
    EXPECT_GT(g.compute_units(), 0u);
  }
  EXPECT_TRUE(ndl::device{}.is_gpu()) << "the default device is the first GPU";
}

TEST(cuda_launch_test, ranges_in_1_2_3_dimensions_match_the_cpu) {
  NDL_REQUIRE_GPU();
  for (const auto& g : gpus()) {
    ndl::queue q(g);
    for (ndl::size_t n : {ndl::size_t{1}, ndl::size_t{2}, ndl::size_t{1000}, ndl::size_t{1} << 20})
      EXPECT_EQ(lambda_launch(q, n, 3), lambda_launch(cpu_queue(), n, 3)) << n;
    const ndl::range<3> shape{7, 33, 65};
    auto launch = [&](const ndl::queue& qq, ndl::array<std::int64_t, 3>& a) {
      ndl::call_kernel(qq, iota3{}, shape, a);
    };
    EXPECT_EQ(run_on<std::int64_t>(q, shape, launch),
              run_on<std::int64_t>(cpu_queue(), shape, launch));
    auto nd = [&](const ndl::queue& qq, ndl::array<std::int64_t, 3>& a) {
      ndl::call_kernel(qq, nd_ids{}, ndl::nd_range<3>{{8, 12, 64}, {2, 3, 32}}, a);
    };
    EXPECT_EQ(run_on<std::int64_t>(q, ndl::range<3>{8, 12, 64}, nd),
              run_on<std::int64_t>(cpu_queue(), ndl::range<3>{8, 12, 64}, nd));
  }
}

TEST(cuda_launch_test, zero_items_is_a_no_op_and_more_than_2_pow_31_items_run) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front());
  auto out = ndl::array<unsigned long long>::zeros({2}, q);
  ndl::call_kernel(q, count_items{}, ndl::range{ndl::size_t{0}}, out);
  EXPECT_EQ(out.to_host(), (std::vector<unsigned long long>{0, 0}));
  const ndl::size_t n = (ndl::size_t{1} << 31) + 1;
  ndl::call_kernel(q, count_items{}, ndl::range{n}, out);
  EXPECT_EQ(out.to_host(), (std::vector<unsigned long long>{(n + 4095) / 4096, n - 1}));
}

TEST(cuda_launch_test, tiled_matmul_with_barriers_matches_the_cpu) {
  NDL_REQUIRE_GPU();
  const ndl::size_t n = 128;
  std::vector<float> ha(n * n), hb(n * n);
  for (ndl::size_t i = 0; i < n * n; ++i) {
    ha[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
    hb[i] = static_cast<float>((i * 53) % 97) / 48.0f - 1.0f;
  }
  auto run = [&](const ndl::queue& q) {
    auto a = ndl::array<float, 2>::from_host(ha, {n, n}, q);
    auto b = ndl::array<float, 2>::from_host(hb, {n, n}, q);
    auto c = ndl::array<float, 2>::zeros({n, n}, q);
    ndl::call_kernel(q, tiled_matmul{}, ndl::nd_range<2>{{n, n}, {tile, tile}}, a, b, c,
                     ndl::local_accessor<float, 2>{{tile, tile}},
                     ndl::local_accessor<float, 2>{{tile, tile}});
    return c.to_host();
  };
  const auto cpu = run(cpu_queue());
  for (const auto& g : gpus()) {
    const auto gpu = run(ndl::queue(g));
    for (ndl::size_t i = 0; i < n * n; ++i)
      ASSERT_NEAR(gpu[i], cpu[i], 1e-4f * (1.0f + std::fabs(cpu[i]))) << i;
  }
}

TEST(cuda_launch_test, atomics_on_global_and_local_memory_match_the_cpu) {
  NDL_REQUIRE_GPU();
  const ndl::size_t n = 100000;
  std::vector<int> in(n);
  for (ndl::size_t i = 0; i < n; ++i)
    in[i] = static_cast<int>((i * 7919) % 100003) - 500;
  auto run = [&](const ndl::queue& q) {
    auto a = ndl::array<int>::from_host(in, q);
    auto hist = ndl::array<int>::zeros({16}, q);
    auto fsum = ndl::array<float>::zeros({1}, q);
    auto mm = ndl::array<int>::from_host(std::vector<int>{1 << 30, -(1 << 30), 0}, q);
    auto dmm = ndl::array<double>::from_host(std::vector<double>{1e300, -1e300}, q);
    auto bits = ndl::array<unsigned long long>::zeros({2}, q);
    ndl::call_kernel(q, atomics_kernel{}, ndl::range{n}, a, hist, fsum, mm, dmm, bits);
    auto total = ndl::array<long long>::zeros({1}, q);
    ndl::call_kernel(q, group_sum{}, ndl::nd_range{{n}, {250}}, a, total,
                     ndl::local_accessor<int, 1>{{1}});
    return std::make_tuple(hist.to_host(), fsum.to_host(), mm.to_host(), dmm.to_host(),
                           bits.to_host(), total.to_host());
  };
  const auto cpu = run(cpu_queue());
  EXPECT_EQ(std::get<1>(cpu)[0], 50000.0f);
  EXPECT_EQ(std::get<2>(cpu)[2], static_cast<int>(n));
  EXPECT_EQ(std::get<5>(cpu)[0], std::accumulate(in.begin(), in.end(), 0LL));
  for (const auto& g : gpus())
    EXPECT_EQ(run(ndl::queue(g)), cpu) << g.filter_string();
}

TEST(cuda_array_test, strided_slices_read_and_write_like_the_cpu) {
  NDL_REQUIRE_GPU();
  std::vector<int> h(40 * 30);
  std::iota(h.begin(), h.end(), 0);
  auto run = [&](const ndl::queue& q) {
    auto a = ndl::array<int, 2>::from_host(h, {40, 30}, q);
    auto s = a(ndl::slice(38, 1, -3), ndl::slice(1, 29, 2));  // strided, negative step
    ndl::call_kernel(q, scale_strided{}, s.shape(), s, 10);
    auto f = ndl::array<int, 2>::from_host(h, {40, 30}, q, ndl::layout::f);
    auto fs = f(ndl::slice(0, 40, 5), ndl::all);
    fs.copy_from_host(std::vector<int>(8 * 30, 7));
    return std::make_tuple(a.to_host(), s.to_host(), f.to_host(), fs.to_host());
  };
  const auto cpu = run(cpu_queue());
  for (const auto& g : gpus())
    EXPECT_EQ(run(ndl::queue(g)), cpu) << g.filter_string();
}

TEST(cuda_queue_test, async_chain_keeps_dropped_arrays_alive_and_orders_launches) {
  NDL_REQUIRE_GPU();
  for (bool in_order : {true, false}) {
    ndl::queue q(gpus().front(), {.in_order = in_order});
    const ndl::size_t n = 1 << 16;
    auto result = ndl::array<float>::zeros({n}, q);
    ndl::event last;
    {
      auto a = ndl::array<float>::full({n}, 1.0f, q);
      for (int i = 0; i < 100; ++i)
        last = ndl::call_kernel_async(q, add_one{}, ndl::range{n}, {last}, a).device_event;
      last = ndl::call_kernel_async(q, twice_into{}, ndl::range{n}, {last}, a, result).host_event;
    }  // `a` dropped while the chain runs
    last.wait();
    EXPECT_EQ(result.to_host(), std::vector<float>(n, 202.0f)) << "in_order " << in_order;
    q.wait();
  }
}

TEST(cuda_queue_test, dependencies_cross_between_cpu_and_gpu_queues_both_ways) {
  NDL_REQUIRE_GPU();
  const ndl::size_t n = 1 << 14;
  ndl::queue cq(ndl::device{"cpu"}, {.in_order = false});
  ndl::queue gq(gpus().front(), {.in_order = false});
  for (int round = 0; round < 20; ++round) {
    auto c = ndl::array<float>::full({n}, 1.0f, cq);
    auto g = ndl::array<float>::zeros({n}, gq);
    auto e1 = ndl::call_kernel_async(cq, add_one{}, ndl::range{n}, {}, c).device_event;  // 2
    auto e2 = gq.memcpy_async(g.data(), c.data(), n * sizeof(float), {e1});
    auto e3 = ndl::call_kernel_async(gq, add_one{}, ndl::range{n}, {e2}, g).device_event;  // 3
    auto e4 = gq.memcpy_async(c.data(), g.data(), n * sizeof(float), {e3});
    auto e5 = ndl::call_kernel_async(cq, add_one{}, ndl::range{n}, {e4}, c).device_event;  // 4
    e5.wait();
    ASSERT_EQ(c.to_host(), std::vector<float>(n, 4.0f)) << "round " << round;
  }
}

TEST(cuda_queue_test, profiling_timestamps_are_ordered) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front(), {.in_order = true, .enable_profiling = true});
  auto a = ndl::array<float>::zeros({1 << 20}, q);
  auto [h, d] = ndl::call_kernel_async(q, add_one{}, ndl::range{ndl::size_t{1} << 20}, {}, a);
  h.wait();
  EXPECT_LE(d.profiling_submit(), d.profiling_start());
  EXPECT_LE(d.profiling_start(), d.profiling_end());
  EXPECT_GT(d.profiling_end(), 0u);
}

TEST(cuda_memory_test, usm_kinds_copies_and_fills) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front());
  const ndl::size_t n = 1000;
  int* dev = ndl::malloc_device<int>(n, q);
  int* shared = ndl::malloc_shared<int>(n, q);
  int* host = ndl::malloc_host<int>(n, q);
  q.fill(dev, 42, n);
  q.memcpy(shared, dev, n * sizeof(int));
  q.memcpy(host, shared, n * sizeof(int));
  EXPECT_EQ(std::vector<int>(host, host + n), std::vector<int>(n, 42));
  struct rgb {
    unsigned char r, g, b;
  };
  auto* px = ndl::malloc_shared<rgb>(n, q);
  q.fill(px, rgb{1, 2, 3}, n);
  EXPECT_EQ(px[n - 1].b, 3);
  ndl::free(px, q);
  ndl::free(dev, q);
  ndl::free(shared, q);
  ndl::free(host, q);
}

TEST(cuda_memory_test, out_of_memory_is_typed_and_the_device_stays_usable) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front());
  try {
    (void)ndl::malloc_device<char>(ndl::size_t{1} << 50, q);
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::out_of_memory) << e.what();
  }
  EXPECT_EQ(lambda_launch(q, 10, 2)[9], 18);
}

TEST(cuda_validation_test, limits_of_the_device_are_checked_with_the_limit_named) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front());
  auto out = ndl::array<float>::zeros({4096}, q);
  try {
    ndl::call_kernel(q, big_local{}, ndl::nd_range{{2048}, {2048}}, out,
                     ndl::local_accessor<float, 1>{{16}});
    FAIL();
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::invalid_range);
    EXPECT_NE(std::string(e.what()).find("1024"), std::string::npos) << e.what();
  }
  auto out3 = ndl::array<std::int64_t, 3>::zeros({128, 1, 1}, q);
  try {
    ndl::call_kernel(q, nd_ids{}, ndl::nd_range<3>{{128, 1, 1}, {128, 1, 1}}, out3);
    FAIL();
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::invalid_range);
    EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
  }
  const auto limit = q.get_device().local_memory_bytes();
  try {
    ndl::call_kernel(q, big_local{}, ndl::nd_range{{256}, {256}}, out,
                     ndl::local_accessor<float, 1>{{limit / sizeof(float) + 1}});
    FAIL();
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(std::to_string(limit)), std::string::npos) << e.what();
  }
  // Above 48 KB of local memory, up to the device's limit, works.
  const ndl::size_t floats = limit / sizeof(float);
  ndl::call_kernel(q, big_local{}, ndl::nd_range{{4096}, {256}}, out,
                   ndl::local_accessor<float, 1>{{floats}});
  EXPECT_EQ(out.to_host()[15], static_cast<float>(floats - 1));
}

TEST(cuda_validation_test, kernels_from_files_not_compiled_by_nvcc_are_unsupported) {
  NDL_REQUIRE_GPU();
  ndl::queue q(gpus().front());
  auto a = ndl::array<int>::zeros({16}, q);
  try {
    ndl_test::launch_from_host_compiled_file(q, a);
    FAIL();
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::unsupported);
    EXPECT_NE(std::string(e.what()).find("ndl_add_cuda_sources"), std::string::npos) << e.what();
  }
  // The same kernel runs on the CPU device.
  auto c = ndl::array<int>::zeros({16}, cpu_queue());
  ndl_test::launch_from_host_compiled_file(cpu_queue(), c);
  EXPECT_EQ(c.to_host()[15], 15);
}

// A kernel that writes through a bad pointer poisons the CUDA context: the device is lost.
NDL_TEST_PROBE(cuda_device_lost) {
  ndl::queue q(ndl::device{"cuda:0"});
  auto* bad = reinterpret_cast<int*>(std::uintptr_t{0x10});
  auto ev = ndl::call_kernel_async(q, write_through_pointer{}, ndl::range{1024}, {}, bad);
  try {
    ev.device_event.wait();
    std::printf("no error\n");
    return 1;
  } catch (const ndl::error& e) {
    std::printf("first: %s: %s\n", std::string(ndl::to_string(e.code())).c_str(), e.what());
  }
  try {
    auto a = ndl::array<int>::zeros({4}, q);
    std::printf("allocation after loss succeeded\n");
    return 1;
  } catch (const ndl::error& e) {
    std::printf("then: %s\n", std::string(ndl::to_string(e.code())).c_str());
  }
  // The CPU device still works.
  auto c = ndl::array<int>::zeros({16}, ndl::queue(ndl::device{"cpu"}));
  ndl_test::launch_from_host_compiled_file(ndl::queue(ndl::device{"cpu"}), c);
  std::printf("cpu ok %d\n", c.to_host()[15]);
  return 0;
}

TEST(cuda_error_test, a_sticky_error_loses_the_device_and_every_later_call_says_so) {
  NDL_REQUIRE_GPU();
  const auto r = ndl_test::run_probe("cuda_device_lost", {}, std::chrono::seconds(60));
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("first: device_lost"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cudaErrorIllegalAddress"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("then: device_lost"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu ok 15"), std::string::npos) << r.output;
}

// --- checked mode (NDL_CHECKED) ---------------------------------------------------------------
// The GPU side of tests/api/checked_test.cpp: work-item ids when blocks loop over work-groups,
// check slots reused after thousands of launches, and a violation in every block at once.

bool checked_build() {
  return NDL_CHECKED != 0;
}

#define NDL_REQUIRE_CHECKED()                                                          \
  if (!checked_build())                                                                \
  GTEST_SKIP() << "this test goes out of bounds on purpose: it needs a checked build " \
                  "(-DNDL_CHECKED=ON)"

// 70000 work-groups in dimension 0 run on 65535 blocks in y: some blocks loop. The one
// out-of-bounds access happens in the looping part.
struct nd_one_bad {
  NDL_KERNEL_FN void operator()(ndl::nd_item<2> it, ndl::view<int, 2> v) const {
    const auto i = it.get_global_id(0), j = it.get_global_id(1);
    v(i, i == 69999 && j == 2 ? j + 2 : j) = 1;
  }
};

struct write_at {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<int, 1> v, ndl::size_t bad) const {
    const auto i = it.get_id(0);
    v[i == bad ? v.extent(0) + i : i] = static_cast<int>(i);
  }
};

TEST(cuda_checked_test, work_item_ids_of_blocks_that_loop_over_groups) {
  NDL_REQUIRE_GPU();
  NDL_REQUIRE_CHECKED();
  ndl::queue q(gpus().front());
  auto a = ndl::array<int, 2>::zeros({70000, 4}, q);
  try {
    ndl::call_kernel(q, nd_one_bad{}, ndl::nd_range<2>{{70000, 4}, {1, 4}}, a);
    FAIL() << "no error";
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::kernel_failure) << e.what();
    const std::string m = e.message();
    EXPECT_NE(m.find("work-item (69999, 2)"), std::string::npos) << m;
    EXPECT_NE(m.find("argument 0 (ndl::view<int, 2>): index (69999, 4) is outside extent "
                     "(70000, 4) (dimension 1)"),
              std::string::npos)
        << m;
  }
  // Every in-bounds work-item ran (the kernel goes on after the access).
  const auto h = a.to_host();
  EXPECT_EQ(std::count(h.begin(), h.end(), 1), 70000 * 4 - 1);
}

TEST(cuda_checked_test, slots_are_reused_after_thousands_of_launches) {
  NDL_REQUIRE_GPU();
  NDL_REQUIRE_CHECKED();
  ndl::queue q(gpus().front());
  auto a = ndl::array<int>::zeros({256}, q);
  // More launches than the device has check slots (4096), in bounds, then bad ones.
  for (int k = 0; k < 10000; ++k)
    (void)ndl::call_kernel_async(q, write_at{}, ndl::range{256}, {}, a, ndl::size_t{1000});
  q.wait();
  for (ndl::size_t bad : {ndl::size_t{3}, ndl::size_t{255}, ndl::size_t{17}}) {
    try {
      ndl::call_kernel(q, write_at{}, ndl::range{256}, a, bad);
      FAIL() << "no error";
    } catch (const ndl::error& e) {
      EXPECT_EQ(e.code(), ndl::errc::kernel_failure) << e.what();
      EXPECT_NE(e.message().find("work-item (" + std::to_string(bad) + ")"), std::string::npos)
          << e.message();
      EXPECT_NE(e.message().find("index (" + std::to_string(256 + bad) + ")"), std::string::npos)
          << e.message();
    }
  }
  // Asynchronous failures among successes, on an out-of-order queue: each reports its own.
  ndl::queue ooo(gpus().front(), ndl::queue_options{false, false});
  std::vector<ndl::array<int>> arrays;
  std::vector<ndl::launch_events> evs;
  for (ndl::size_t k = 0; k < 64; ++k) {
    arrays.push_back(ndl::array<int>::zeros({256}, ooo));
    evs.push_back(ndl::call_kernel_async(ooo, write_at{}, ndl::range{256}, {}, arrays.back(),
                                         k % 2 ? k : ndl::size_t{1000}));
  }
  for (ndl::size_t k = 0; k < 64; ++k) {
    if (k % 2 == 0) {
      EXPECT_NO_THROW(evs[k].device_event.wait()) << k;
      continue;
    }
    try {
      evs[k].device_event.wait();
      ADD_FAILURE() << "launch " << k << " reported nothing";
    } catch (const ndl::error& e) {
      EXPECT_NE(e.message().find("work-item (" + std::to_string(k) + ")"), std::string::npos)
          << e.message();
    }
  }
  try {
    ooo.wait();
  } catch (const ndl::error&) {
  }
  EXPECT_EQ(lambda_launch(q, 10, 2)[9], 18);
}

// Every thread of a million goes out of bounds at once: one report, the device stays usable.
TEST(cuda_checked_test, a_million_violations_report_one) {
  NDL_REQUIRE_GPU();
  NDL_REQUIRE_CHECKED();
  ndl::queue q(gpus().front());
  auto a = ndl::array<float>::zeros({1 << 20}, q);
  try {
    ndl::call_kernel(q, add_one{}, ndl::range{ndl::size_t{1} << 21}, a);
    FAIL() << "no error";
  } catch (const ndl::error& e) {
    const std::string m = e.message();
    EXPECT_EQ(m.find("out-of-bounds"), m.rfind("out-of-bounds")) << m;
    EXPECT_NE(m.find("outside extent (1048576)"), std::string::npos) << m;
  }
  const auto h = a.to_host();
  EXPECT_EQ(std::count(h.begin(), h.end(), 1.0f), 1 << 20);
  EXPECT_EQ(lambda_launch(q, 10, 2)[9], 18);
}

}  // namespace
