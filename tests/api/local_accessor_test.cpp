// Work-group local memory (include/ndl/kernel/local_accessor.hpp): numba-dpex's
// test_local_accessors (a[i] == 4950 * i for four element types in 1-, 2- and 3-D, in the
// kernel and through a device function), local memory private to each group, several
// accessors in one launch, alignment of 16-, 32- and 64-byte element types (intel/llvm#5007),
// the whole of the device's local memory, and the launch errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ndl/ndl.hpp>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_test::bounded;
using ndl_test::fewer_under_tsan;

class local_accessor_test : public ndl_test::device_test {};

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, double>) return "float64";
  return "?";
}

template <class F>
void for_each_numba_type(F&& f) {
  f.template operator()<std::int32_t>();
  f.template operator()<std::int64_t>();
  f.template operator()<float>();
  f.template operator()<double>();
}

// --- numba-dpex test_local_accessors -------------------------------------------------------------

// slm[local id] = 0, then 100 times slm[local id] += i * m: a[i] == 4950 * i.
template <class T>
NDL_KERNEL_FN void accumulate(T& cell, size_t i) {
  cell = 0;
  for (int m = 0; m < 100; ++m)
    cell += static_cast<T>(i) * static_cast<T>(m);
}

template <class T, bool ViaFunction>
struct slm_kernel_1d {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<T, 1> a,
                                ndl::local_accessor<T, 1> slm) const {
    const size_t i = it.get_global_id(0);
    T& cell = slm[it.get_local_id(0)];
    if constexpr (ViaFunction) {
      accumulate(cell, i);
    } else {
      cell = 0;
      for (int m = 0; m < 100; ++m)
        cell += static_cast<T>(i) * static_cast<T>(m);
    }
    a[i] = slm[it.get_local_id(0)];
  }
};

template <class T, bool ViaFunction>
struct slm_kernel_2d {
  NDL_KERNEL_FN void operator()(ndl::nd_item<2> it, ndl::view<T, 1> a,
                                ndl::local_accessor<T, 2> slm) const {
    const size_t i = it.get_global_id(0);
    T& cell = slm(it.get_local_id(0), it.get_local_id(1));
    if constexpr (ViaFunction) {
      accumulate(cell, i);
    } else {
      cell = 0;
      for (int m = 0; m < 100; ++m)
        cell += static_cast<T>(i) * static_cast<T>(m);
    }
    a[i] = slm(it.get_local_id(0), it.get_local_id(1));
  }
};

template <class T, bool ViaFunction>
struct slm_kernel_3d {
  NDL_KERNEL_FN void operator()(ndl::nd_item<3> it, ndl::view<T, 1> a,
                                ndl::local_accessor<T, 3> slm) const {
    const size_t i = it.get_global_id(1);
    T& cell = slm(it.get_local_id(0), it.get_local_id(1), it.get_local_id(2));
    if constexpr (ViaFunction) {
      accumulate(cell, i);
    } else {
      cell = 0;
      for (int m = 0; m < 100; ++m)
        cell += static_cast<T>(i) * static_cast<T>(m);
    }
    a[i] = slm(it.get_local_id(0), it.get_local_id(1), it.get_local_id(2));
  }
};

template <class T>
void expect_4950_i(const ndl::array<T>& a) {
  const auto host = a.to_host();
  for (size_t i = 0; i < host.size(); ++i)
    ASSERT_EQ(host[i], static_cast<T>(4950 * i)) << "a[" << i << "]";
}

NDL_TEST_P(local_accessor_test, numba_dpex_local_accessors_in_one_two_and_three_dimensions) {
  auto q = default_queue();
  for_each_numba_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    {
      SCOPED_TRACE("1-D");
      auto a = ndl::array<T>::zeros({32}, q);
      ndl::call_kernel(slm_kernel_1d<T, false>{}, ndl::nd_range<1>{{32}, {32}}, a,
                       ndl::local_accessor<T, 1>{{32}});
      expect_4950_i(a);
      auto b = ndl::array<T>::zeros({32}, q);
      ndl::call_kernel(slm_kernel_1d<T, true>{}, ndl::nd_range<1>{{32}, {32}}, b,
                       ndl::local_accessor<T, 1>{{32}});
      expect_4950_i(b);
    }
    {
      SCOPED_TRACE("2-D");
      auto a = ndl::array<T>::zeros({32}, q);
      ndl::call_kernel(slm_kernel_2d<T, false>{}, ndl::nd_range<2>{{32, 1}, {32, 1}}, a,
                       ndl::local_accessor<T, 2>{{32, 1}});
      expect_4950_i(a);
      auto b = ndl::array<T>::zeros({32}, q);
      ndl::call_kernel(slm_kernel_2d<T, true>{}, ndl::nd_range<2>{{32, 1}, {32, 1}}, b,
                       ndl::local_accessor<T, 2>{{32, 1}});
      expect_4950_i(b);
    }
    {
      SCOPED_TRACE("3-D");
      auto a = ndl::array<T>::zeros({32}, q);
      ndl::call_kernel(slm_kernel_3d<T, false>{}, ndl::nd_range<3>{{1, 32, 1}, {1, 32, 1}}, a,
                       ndl::local_accessor<T, 3>{{1, 32, 1}});
      expect_4950_i(a);
      auto b = ndl::array<T>::zeros({32}, q);
      auto [host, devev] =
          ndl::call_kernel_async(slm_kernel_3d<T, true>{}, ndl::nd_range<3>{{1, 32, 1}, {1, 32, 1}},
                                 {}, b, ndl::local_accessor<T, 3>{{1, 32, 1}});
      devev.wait();
      host.wait();
      expect_4950_i(b);
    }
  });
}

// --- local memory belongs to one group -----------------------------------------------------------

// Every group fills its local memory with its own id and a per-item value, waits, and checks
// all of it: groups running at the same time on other threads must not share the memory.
NDL_TEST_P(local_accessor_test, each_group_has_its_own_local_memory) {
  auto q = default_queue();
  constexpr size_t n = 64, groups = 512 / fewer_under_tsan, total = n * groups;
  auto bad = ndl::array<int>::zeros({total}, q);
  auto out = ndl::array<int>::zeros({total}, q);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(bounded(ndl::call_kernel_async(
        [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> b, ndl::view<int, 1> o, int r,
                         ndl::local_accessor<int, 1> ids, ndl::local_accessor<int, 1> vals) {
          const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
          const int g = static_cast<int>(it.get_group_id(0));
          ids[l] = g;
          vals[l] = g * 1000 + static_cast<int>(l) + r;
          ndl::group_barrier(it.get_group());
          int wrong = 0;
          for (size_t k = 0; k < nl; ++k) {
            wrong += ids[k] != g;
            wrong += vals[k] != g * 1000 + static_cast<int>(k) + r;
          }
          b[it.get_global_id(0)] = wrong;
          o[it.get_global_id(0)] = vals[nl - 1 - l];
          ndl::group_barrier(it.get_group());
        },
        ndl::nd_range<1>{{total}, {n}}, {}, bad, out, round, ndl::local_accessor<int, 1>{{n}},
        ndl::local_accessor<int, 1>{{n}})));
    EXPECT_EQ(bad.to_host(), std::vector<int>(total, 0)) << "round " << round;
    const auto host = out.to_host();
    for (size_t g = 0; g < groups; ++g)
      for (size_t l = 0; l < n; ++l)
        ASSERT_EQ(host[g * n + l], static_cast<int>(g * 1000 + (n - 1 - l)) + round);
  }
}

// Without a barrier (plain loop groups) local memory still works, per work-item slots.
NDL_TEST_P(local_accessor_test, barrier_free_kernels_use_local_memory) {
  auto q = default_queue();
  constexpr size_t n = 128, groups = 300, total = n * groups;
  auto out = ndl::array<std::int64_t>::zeros({total}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<std::int64_t, 1> o,
                       ndl::local_accessor<std::int64_t, 1> scratch) {
        const size_t l = it.get_local_id(0);
        scratch[l] = static_cast<std::int64_t>(it.get_global_id(0)) * 3;
        scratch[l] += 1;
        o[it.get_global_id(0)] = scratch[l];
      },
      ndl::nd_range<1>{{total}, {n}}, out, ndl::local_accessor<std::int64_t, 1>{{n}});
  const auto host = out.to_host();
  for (size_t i = 0; i < total; ++i)
    ASSERT_EQ(host[i], static_cast<std::int64_t>(3 * i + 1)) << i;
}

// Row-major indexing of 2-D and 3-D accessors, and get_range/size/bytes/data in a kernel.
NDL_TEST_P(local_accessor_test, multi_dimensional_indexing_and_queries) {
  auto q = default_queue();
  constexpr size_t r0 = 4, r1 = 8;
  auto out = ndl::array<int, 2>::zeros({3 * r0, 2 * r1}, q);
  auto info = ndl::array<std::uint64_t>::zeros({8}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<int, 2> o, ndl::view<std::uint64_t, 1> inf,
                       ndl::local_accessor<int, 2> t, ndl::local_accessor<short, 3> t3) {
        const size_t a = it.get_local_id(0), b = it.get_local_id(1);
        const size_t na = it.get_local_range(0), nb = it.get_local_range(1);
        t(a, b) = static_cast<int>(100 * a + b);
        t3(a % 2, a / 2, b) = static_cast<short>(a * nb + b);
        ndl::group_barrier(it.get_group());
        // Transposed through the row-major layout: element (a, b) sits at a * nb + b.
        o(it.get_global_id(0), it.get_global_id(1)) = t(na - 1 - a, nb - 1 - b);
        if (it.get_global_linear_id() == 0) {
          inf[0] = t.get_range()[0];
          inf[1] = t.get_range()[1];
          inf[2] = t.size();
          inf[3] = t.bytes();
          inf[4] = t.data() + (1 * nb + 2) == &t(1, 2) ? 1u : 0u;
          inf[5] = t.data()[1 * nb + 2] == 102 ? 1u : 0u;
          inf[6] = t3.size();
          // t3 has shape {2, 2, nb}: linear index of (1, 1, 3) = (1 * 2 + 1) * nb + 3.
          inf[7] = static_cast<std::uint64_t>(t3.data()[(1 * 2 + 1) * nb + 3]);
        }
      },
      ndl::nd_range<2>{{3 * r0, 2 * r1}, {r0, r1}}, {}, out, info,
      ndl::local_accessor<int, 2>{{r0, r1}}, ndl::local_accessor<short, 3>{{2, r0 / 2, r1}})));
  const auto host = out.to_host();
  for (size_t i = 0; i < 3 * r0; ++i)
    for (size_t j = 0; j < 2 * r1; ++j)
      ASSERT_EQ(host[i * 2 * r1 + j], static_cast<int>(100 * (r0 - 1 - i % r0) + (r1 - 1 - j % r1)))
          << i << " " << j;
  // (a % 2, a / 2, b) with a = 3 (1, 1, b) holds 3 * nb + b.
  EXPECT_EQ(info.to_host(), (std::vector<std::uint64_t>{r0, r1, r0 * r1, r0 * r1 * sizeof(int), 1,
                                                        1, 2 * (r0 / 2) * r1, 3 * r1 + 3}));
}

// --- several accessors, alignment ----------------------------------------------------------------

struct alignas(16) vec2d {
  double x, y;
};
struct alignas(32) vec4d {
  double v[4];
};
struct alignas(64) cache_line {
  std::int32_t v[16];
};
// Over-aligned beyond a cache line (for example a type padded to avoid false sharing on CPUs
// with 128-byte prefetch pairs).
struct alignas(128) padded_counter {
  std::int64_t value;
  std::int64_t pad[15];
};
struct alignas(256) page_aligned {
  double value;
};
static_assert(sizeof(vec2d) == 16 && alignof(vec2d) == 16);
static_assert(sizeof(vec4d) == 32 && alignof(vec4d) == 32);
static_assert(sizeof(cache_line) == 64 && alignof(cache_line) == 64);

template <class T>
NDL_KERNEL_FN T make_value(size_t k) {
  T v{};
  if constexpr (std::is_same_v<T, vec2d>) {
    v.x = static_cast<double>(k);
    v.y = -static_cast<double>(k);
  } else if constexpr (std::is_same_v<T, vec4d>) {
    for (int j = 0; j < 4; ++j)
      v.v[j] = static_cast<double>(k * 4 + static_cast<size_t>(j));
  } else if constexpr (std::is_same_v<T, cache_line>) {
    for (int j = 0; j < 16; ++j)
      v.v[j] = static_cast<std::int32_t>(k) * 16 + j;
  } else if constexpr (std::is_same_v<T, padded_counter>) {
    v.value = static_cast<std::int64_t>(k) * 3;
  } else if constexpr (std::is_same_v<T, page_aligned>) {
    v.value = static_cast<double>(k) / 4;
  } else {
    v = static_cast<T>(k);
  }
  return v;
}

template <class T>
NDL_KERNEL_FN bool same_value(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, vec2d>) {
    return a.x == b.x && a.y == b.y;
  } else if constexpr (std::is_same_v<T, vec4d>) {
    for (int j = 0; j < 4; ++j)
      if (a.v[j] != b.v[j]) return false;
    return true;
  } else if constexpr (std::is_same_v<T, cache_line>) {
    for (int j = 0; j < 16; ++j)
      if (a.v[j] != b.v[j]) return false;
    return true;
  } else if constexpr (std::is_same_v<T, padded_counter> || std::is_same_v<T, page_aligned>) {
    return a.value == b.value;
  } else {
    return a == b;
  }
}

// A one-byte accessor first forces padding before the accessor of T; every element of it
// must be aligned for T, and values of T must survive a barrier.
template <class T>
struct alignment_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> misaligned,
                                ndl::view<int, 1> wrong, ndl::local_accessor<char, 1> pad,
                                ndl::local_accessor<T, 1> tile) const {
    const size_t l = it.get_local_id(0), n = it.get_local_range(0);
    if (l == 0) pad[0] = 'x';
    const auto address = reinterpret_cast<std::uintptr_t>(&tile[l]);
    misaligned[it.get_global_id(0)] = static_cast<int>(address % alignof(T));
    tile[l] = make_value<T>(it.get_global_id(0));
    ndl::group_barrier(it.get_group());
    const size_t other = (l + 1) % n;
    wrong[it.get_global_id(0)] =
        same_value(tile[other], make_value<T>(it.get_group_id(0) * n + other)) && pad[0] == 'x' ? 0
                                                                                                : 1;
  }
};

template <class T>
void check_alignment(const ndl::queue& q, const char* name) {
  SCOPED_TRACE(name);
  // Several chunks of work-groups (one under TSan).
  constexpr size_t n = 16, groups = 1024 / fewer_under_tsan, total = n * groups;
  auto misaligned = ndl::array<int>::full({total}, -1, q);
  auto wrong = ndl::array<int>::full({total}, -1, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      alignment_kernel<T>{}, ndl::nd_range<1>{{total}, {n}}, {}, misaligned, wrong,
      ndl::local_accessor<char, 1>{{1}}, ndl::local_accessor<T, 1>{{n}})));
  const auto mis = misaligned.to_host();
  const auto first = std::find_if(mis.begin(), mis.end(), [](int r) { return r != 0; });
  EXPECT_EQ(std::count_if(mis.begin(), mis.end(), [](int r) { return r != 0; }), 0)
      << "work-items saw elements of alignment " << alignof(T)
      << " misaligned in local memory, for example at address % " << alignof(T)
      << " == " << (first == mis.end() ? 0 : *first);
  const auto w = wrong.to_host();
  EXPECT_EQ(std::count(w.begin(), w.end(), 0), static_cast<std::ptrdiff_t>(total))
      << "values did not survive the barrier";
}

NDL_TEST_P(local_accessor_test, elements_of_16_32_and_64_byte_alignment_are_aligned) {
  auto q = default_queue();
  check_alignment<double>(q, "double");
#if !defined(__CUDACC__)  // long double has no device representation in CUDA
  check_alignment<long double>(q, "long double");
#endif
  check_alignment<vec2d>(q, "alignas(16) vec2d");
  check_alignment<vec4d>(q, "alignas(32) vec4d");
  check_alignment<cache_line>(q, "alignas(64) cache_line");
}

// Alignment above 64 bytes: the accessor's offset is aligned, so the block it is placed in
// must be aligned as strictly (or the launch refused), never silently misaligned. Each thread
// that runs work-groups has its own block, so the launches come from several fresh host
// threads (which run chunks of their own launches) as well as from this one.
NDL_TEST_P(local_accessor_test, elements_aligned_beyond_a_cache_line_are_aligned) {
  auto q = default_queue();
  check_alignment<padded_counter>(q, "alignas(128) padded_counter");
  check_alignment<page_aligned>(q, "alignas(256) page_aligned");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      const ndl::queue own(dev());
      check_alignment<padded_counter>(own, "alignas(128) padded_counter, another thread");
      check_alignment<page_aligned>(own, "alignas(256) page_aligned, another thread");
    });
  for (auto& th : threads)
    th.join();
}

// Several accessors of different types and sizes in one launch: disjoint and each aligned.
NDL_TEST_P(local_accessor_test, several_accessors_are_disjoint) {
  auto q = default_queue();
  constexpr size_t n = 24, groups = 16, total = n * groups;
  auto bad = ndl::array<int>::full({total}, -1, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> b, ndl::local_accessor<char, 1> c,
                       ndl::local_accessor<double, 1> d, ndl::local_accessor<short, 2> s,
                       ndl::local_accessor<vec4d, 1> v) {
        const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
        const int g = static_cast<int>(it.get_group_id(0));
        if (l < c.size()) c[l] = static_cast<char>('a' + l);
        d[l] = g + 0.5 * static_cast<double>(l);
        s(l, 0) = static_cast<short>(l);
        s(l, 1) = static_cast<short>(-g);
        v[l] = make_value<vec4d>(l + static_cast<size_t>(g));
        ndl::group_barrier(it.get_group());
        int errors = 0;
        for (size_t k = 0; k < c.size(); ++k)
          errors += c[k] != static_cast<char>('a' + k);
        for (size_t k = 0; k < nl; ++k) {
          errors += d[k] != g + 0.5 * static_cast<double>(k);
          errors += s(k, 0) != static_cast<short>(k);
          errors += s(k, 1) != static_cast<short>(-g);
          errors += !same_value(v[k], make_value<vec4d>(k + static_cast<size_t>(g)));
        }
        // The four blocks do not overlap.
        const auto begin = [](const auto& acc) {
          return reinterpret_cast<std::uintptr_t>(acc.data());
        };
        const std::uintptr_t lo[4] = {begin(c), begin(d), begin(s), begin(v)};
        const std::uintptr_t hi[4] = {lo[0] + c.bytes(), lo[1] + d.bytes(), lo[2] + s.bytes(),
                                      lo[3] + v.bytes()};
        for (int x = 0; x < 4; ++x)
          for (int y = x + 1; y < 4; ++y)
            errors += lo[x] < hi[y] && lo[y] < hi[x];
        errors += begin(d) % alignof(double) != 0;
        errors += begin(s) % alignof(short) != 0;
        errors += begin(v) % alignof(vec4d) != 0;
        ndl::group_barrier(it.get_group());
        b[it.get_global_id(0)] = errors;
      },
      ndl::nd_range<1>{{total}, {n}}, {}, bad, ndl::local_accessor<char, 1>{{5}},
      ndl::local_accessor<double, 1>{{n}}, ndl::local_accessor<short, 2>{{n, 2}},
      ndl::local_accessor<vec4d, 1>{{n}})));
  EXPECT_EQ(bad.to_host(), std::vector<int>(total, 0));
}

// --- the whole of the device's local memory ------------------------------------------------------

// One accessor of exactly local_memory_bytes(), written to the last byte by every group
// (ASan checks the block's bounds), and two halves that add up to the limit.
NDL_TEST_P(local_accessor_test, all_of_the_local_memory) {
  auto q = default_queue();
  const size_t bytes = dev().local_memory_bytes();
  ASSERT_GT(bytes, 1024u);
  constexpr size_t n = 256, groups = 12;
  auto bad = ndl::array<int>::full({n * groups}, -1, q);
  const auto kernel = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> b,
                                       ndl::local_accessor<unsigned char, 1> m) {
    const size_t l = it.get_local_id(0), nl = it.get_local_range(0), size = m.size();
    const auto tag = static_cast<unsigned char>(it.get_group_id(0) * 7 + 1);
    for (size_t k = l; k < size; k += nl)
      m[k] = static_cast<unsigned char>(tag + k);
    ndl::group_barrier(it.get_group());
    int errors = 0;
    for (size_t k = (l + 1) % nl; k < size; k += nl)
      errors += m[k] != static_cast<unsigned char>(tag + k);
    errors += m[size - 1] != static_cast<unsigned char>(tag + size - 1);
    b[it.get_global_id(0)] = errors;
  };
  ASSERT_TRUE(bounded(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{n * groups}, {n}}, {}, bad,
                                             ndl::local_accessor<unsigned char, 1>{{bytes}})));
  EXPECT_EQ(bad.to_host(), std::vector<int>(n * groups, 0));
  // Two accessors of half the memory each (both 16-byte multiples: no padding).
  ASSERT_EQ(bytes % 32, 0u);
  auto bad2 = ndl::array<int>::full({n * groups}, -1, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> b, ndl::local_accessor<double, 1> x,
                       ndl::local_accessor<float, 1> y) {
        const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
        for (size_t k = l; k < x.size(); k += nl)
          x[k] = static_cast<double>(k);
        for (size_t k = l; k < y.size(); k += nl)
          y[k] = -static_cast<float>(k);
        ndl::group_barrier(it.get_group());
        int errors = 0;
        errors += x[x.size() - 1] != static_cast<double>(x.size() - 1);
        errors += y[y.size() - 1] != -static_cast<float>(y.size() - 1);
        errors += x[l] != static_cast<double>(l);
        errors += y[l] != -static_cast<float>(l);
        b[it.get_global_id(0)] = errors;
      },
      ndl::nd_range<1>{{n * groups}, {n}}, {}, bad2,
      ndl::local_accessor<double, 1>{{bytes / 2 / sizeof(double)}},
      ndl::local_accessor<float, 1>{{bytes / 2 / sizeof(float)}})));
  EXPECT_EQ(bad2.to_host(), std::vector<int>(n * groups, 0));
}

// --- errors --------------------------------------------------------------------------------------

NDL_TEST_P(local_accessor_test, a_range_launch_cannot_take_a_local_accessor) {
  auto q = default_queue();
  auto a = ndl::array<int>::zeros({16}, q);
  const auto kernel = ndl::named(
      "range_with_local",
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, ndl::local_accessor<int, 1> t) {
        t[0] = 1;
        v[it.get_id(0)] = t[0];
      });
  NDL_EXPECT_ERROR(ndl::call_kernel(kernel, ndl::range{16}, a, ndl::local_accessor<int, 1>{{4}}),
                   ndl::errc::invalid_argument, "kernel 'range_with_local'", "local_accessor",
                   "nd_range", "range {16}");
  NDL_EXPECT_ERROR(
      ndl::call_kernel_async(kernel, ndl::range{16}, {}, a, ndl::local_accessor<int, 1>{{4}}),
      ndl::errc::invalid_argument, "local_accessor", "nd_range");
  NDL_EXPECT_ERROR(ndl::call_kernel(
                       q, [] NDL_KERNEL_FN(ndl::item<2>, ndl::local_accessor<float, 2>) {},
                       ndl::range{4, 4}, ndl::local_accessor<float, 2>{{2, 2}}),
                   ndl::errc::invalid_argument, "local_accessor", "range {4, 4}");
  EXPECT_EQ(a.to_host(), std::vector<int>(16, 0)) << "the kernel ran";
  EXPECT_NO_THROW(q.wait());
}

NDL_TEST_P(local_accessor_test, more_local_memory_than_the_device_has_is_refused) {
  auto q = default_queue();
  const size_t bytes = dev().local_memory_bytes();
  auto a = ndl::array<int>::zeros({64}, q);
  const auto kernel = ndl::named("greedy", [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> v,
                                                            ndl::local_accessor<char, 1> t) {
    t[0] = 1;
    v[it.get_global_id(0)] = t[0];
  });
  NDL_EXPECT_ERROR(ndl::call_kernel(kernel, ndl::nd_range<1>{{64}, {16}}, a,
                                    ndl::local_accessor<char, 1>{{bytes + 1}}),
                   ndl::errc::invalid_argument, "kernel 'greedy'", std::to_string(bytes + 1),
                   std::to_string(bytes), dev().filter_string());
  NDL_EXPECT_ERROR(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{64}, {16}}, {}, a,
                                          ndl::local_accessor<char, 1>{{bytes * 4}}),
                   ndl::errc::invalid_argument, std::to_string(bytes * 4), std::to_string(bytes));
  // Two accessors that fit alone but not together; the second is padded to 16 bytes.
  NDL_EXPECT_ERROR(ndl::call_kernel(
                       q,
                       [] NDL_KERNEL_FN(ndl::nd_item<1>, ndl::local_accessor<char, 1>,
                                        ndl::local_accessor<char, 1>) {},
                       ndl::nd_range<1>{{64}, {16}}, ndl::local_accessor<char, 1>{{bytes / 2 + 1}},
                       ndl::local_accessor<char, 1>{{bytes / 2}}),
                   ndl::errc::invalid_argument, std::to_string(bytes + 16), std::to_string(bytes));
  // Elements of 8 bytes: one element too many.
  NDL_EXPECT_ERROR(ndl::call_kernel(
                       q, [] NDL_KERNEL_FN(ndl::nd_item<2>, ndl::local_accessor<double, 2>) {},
                       ndl::nd_range<2>{{4, 4}, {2, 2}},
                       ndl::local_accessor<double, 2>{{bytes / sizeof(double) / 2 + 1, 2}}),
                   ndl::errc::invalid_argument, std::to_string(bytes + 16), std::to_string(bytes));
  EXPECT_EQ(a.to_host(), std::vector<int>(64, 0)) << "the kernel ran";
  EXPECT_NO_THROW(q.wait());
}

NDL_TEST_P(local_accessor_test, an_empty_local_accessor_is_refused) {
  auto q = default_queue();
  auto a = ndl::array<int>::zeros({16}, q);
  const auto k1 = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> v,
                                   ndl::local_accessor<int, 1>) { v[it.get_global_id(0)] = 1; };
  NDL_EXPECT_ERROR(
      ndl::call_kernel(k1, ndl::nd_range<1>{{16}, {4}}, a, ndl::local_accessor<int, 1>{{0}}),
      ndl::errc::invalid_argument, "local_accessor", "at least one element");
  NDL_EXPECT_ERROR(ndl::call_kernel_async(k1, ndl::nd_range<1>{{16}, {4}}, {}, a,
                                          ndl::local_accessor<int, 1>{{0}}),
                   ndl::errc::invalid_argument, "at least one element");
  const auto k2 = [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<int, 1> v,
                                   ndl::local_accessor<int, 2>) {
    v[it.get_global_linear_id()] = 1;
  };
  NDL_EXPECT_ERROR(ndl::call_kernel(k2, ndl::nd_range<2>{{4, 4}, {2, 2}}, a,
                                    ndl::local_accessor<int, 2>{{4, 0}}),
                   ndl::errc::invalid_argument, "at least one element");
  EXPECT_EQ(a.to_host(), std::vector<int>(16, 0)) << "the kernel ran";
}

// Launches with local memory from two host threads on their own queues at once.
NDL_TEST_P(local_accessor_test, concurrent_launches_from_two_threads) {
  constexpr size_t n = 32, groups = 256 / fewer_under_tsan, total = n * groups;
  int failures[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      const ndl::queue q(dev());
      for (int i = 0; i < 25; ++i) {
        auto out = ndl::array<int>::zeros({total}, q);
        ndl::call_kernel(
            [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o, int salt,
                             ndl::local_accessor<int, 1> tile) {
              const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
              tile[l] = static_cast<int>(it.get_global_id(0)) + salt;
              ndl::group_barrier(it.get_group());
              o[it.get_global_id(0)] = tile[nl - 1 - l];
            },
            ndl::nd_range<1>{{total}, {n}}, out, t * 100000 + i, ndl::local_accessor<int, 1>{{n}});
        const auto host = out.to_host();
        bool ok = true;
        for (size_t g = 0; g < groups; ++g)
          for (size_t l = 0; l < n; ++l)
            ok = ok && host[g * n + l] == static_cast<int>(g * n + n - 1 - l) + t * 100000 + i;
        if (!ok) ++failures[t];
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures[0], 0);
  EXPECT_EQ(failures[1], 0);
}

}  // namespace
