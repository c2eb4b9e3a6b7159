// Per-work-item arrays (include/ndl/kernel/private_array.hpp): numba-dpex's
// test_private_array (285 with and without zero_fill, 2-D (5, 2), through a device function),
// row-major multi-dimensional indexing, zero_fill, and private arrays that must survive
// barriers (each work-item of a group with barriers runs on its own fiber stack).
#include <gtest/gtest.h>

#include <cstdint>
#include <ndl/ndl.hpp>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_test::bounded;
using ndl_test::fewer_under_tsan;

class private_array_test : public ndl_test::device_test {};

static_assert(ndl::private_array<float, 10>::count == 10);
static_assert(ndl::private_array<float, 5, 2>::count == 10);
static_assert(ndl::private_array<float, 5, 2>::dimensions == 2);
static_assert(ndl::private_array<int, 2, 3, 4>::size() == 24);
static_assert(ndl::private_array<int, 2, 3, 4>::dimensions == 3);

// --- numba-dpex test_private_array ---------------------------------------------------------------

struct private_array_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a) const {
    const size_t i = it.get_linear_id();
    ndl::private_array<float, 10> p;
    for (int j = 0; j < 10; ++j)
      p[static_cast<size_t>(j)] = static_cast<float>(j * j);
    a[i] = 0;
    for (size_t j = 0; j < 10; ++j)
      a[i] += p[j];
  }
};

struct private_array_zero_fill_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a) const {
    const size_t i = it.get_linear_id();
    ndl::private_array<float, 10> p{ndl::zero_fill};
    for (int j = 0; j < 10; ++j)
      p[static_cast<size_t>(j)] += static_cast<float>(j * j);  // relies on the zeros
    a[i] = 0;
    for (size_t j = 0; j < 10; ++j)
      a[i] += p[j];
  }
};

struct private_2d_array_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a) const {
    const size_t i = it.get_linear_id();
    ndl::private_array<float, 5, 2> p{ndl::zero_fill};
    for (int j = 0; j < 10; ++j)
      p(j % 5, j / 5) = static_cast<float>(j * j);
    a[i] = 0;
    for (int j = 0; j < 10; ++j)
      a[i] += p(j % 5, j / 5);
  }
};

// numba-dpex's device_func form: the private array lives in a function the kernel calls.
NDL_KERNEL_FN float sum_of_squares() {
  ndl::private_array<float, 10> p;
  for (int j = 0; j < 10; ++j)
    p[static_cast<size_t>(j)] = static_cast<float>(j * j);
  float s = 0;
  for (size_t j = 0; j < 10; ++j)
    s += p[j];
  return s;
}

struct private_array_in_function_kernel {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a) const {
    a[it.get_linear_id()] = sum_of_squares();
  }
};

NDL_TEST_P(private_array_test, numba_dpex_private_arrays_sum_to_285) {
  auto q = default_queue();
  const auto run = [&](auto kernel, const char* what) {
    SCOPED_TRACE(what);
    auto a = ndl::array<float>::full({10}, -1.0f, q);
    ndl::call_kernel(kernel, ndl::range{10}, a);
    EXPECT_EQ(a.to_host(), std::vector<float>(10, 285.0f));
  };
  run(private_array_kernel{}, "uninitialised");
  run(private_array_zero_fill_kernel{}, "zero_fill");
  run(private_2d_array_kernel{}, "2-D (5, 2)");
  run(private_array_in_function_kernel{}, "in a device function");
  // A launch large enough to run on every worker.
  auto big = ndl::array<float>::zeros({100000}, q);
  ndl::call_kernel(private_2d_array_kernel{}, ndl::range{100000}, big);
  EXPECT_EQ(big.to_host(), std::vector<float>(100000, 285.0f));
}

// --- indexing and zero_fill ----------------------------------------------------------------------

NDL_TEST_P(private_array_test, multi_dimensional_indexing_is_row_major) {
  auto q = default_queue();
  auto bad = ndl::array<int>::full({64}, -1, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> b) {
        int errors = 0;
        ndl::private_array<int, 3, 4> p2;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 4; ++j)
            p2(i, j) = i * 4 + j;
        for (size_t k = 0; k < p2.size(); ++k)
          errors += p2[k] != static_cast<int>(k);
        errors += p2.data() != &p2[0];
        errors += &p2(2, 3) != p2.data() + 11;
        ndl::private_array<std::int64_t, 2, 3, 4> p3;
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k)
              p3(i, j, k) = (i * 3 + j) * 4 + k + static_cast<std::int64_t>(it.get_id(0));
        for (size_t k = 0; k < p3.size(); ++k)
          errors += p3[k] != static_cast<std::int64_t>(k + it.get_id(0));
        // Const access.
        const auto& c3 = p3;
        errors += c3(1, 2, 3) != 23 + static_cast<std::int64_t>(it.get_id(0));
        errors += c3[5] != 5 + static_cast<std::int64_t>(it.get_id(0));
        b[it.get_id(0)] = errors;
      },
      ndl::range{64}, bad);
  EXPECT_EQ(bad.to_host(), std::vector<int>(64, 0));
}

NDL_TEST_P(private_array_test, zero_fill_zeroes_every_element) {
  auto q = default_queue();
  auto bad = ndl::array<int>::full({256}, -1, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> b) {
        int errors = 0;
        // Dirty the stack first so that zeros cannot come from fresh memory by chance.
        {
          ndl::private_array<std::int64_t, 64> dirt;
          for (size_t k = 0; k < dirt.size(); ++k)
            dirt[k] = -1;
          errors += dirt[63] != -1;
        }
        ndl::private_array<double, 7> d{ndl::zero_fill};
        for (size_t k = 0; k < d.size(); ++k)
          errors += d[k] != 0.0;
        ndl::private_array<int, 2, 3, 4> i3{ndl::zero_fill};
        for (size_t k = 0; k < i3.size(); ++k)
          errors += i3[k] != 0;
        ndl::private_array<std::uint64_t, 5, 3> u2{ndl::zero_fill};
        for (int r = 0; r < 5; ++r)
          for (int c = 0; c < 3; ++c)
            errors += u2(r, c) != 0u;
        b[it.get_id(0)] = errors;
      },
      ndl::range{256}, bad);
  EXPECT_EQ(bad.to_host(), std::vector<int>(256, 0));
}

// --- private arrays across barriers --------------------------------------------------------------

struct alignas(32) wide {
  double v[4];
};

// Each work-item keeps its own values in private arrays across several barriers while the
// other work-items of its group run: each must still see its own values afterwards.
NDL_TEST_P(private_array_test, private_arrays_survive_barriers) {
  auto q = default_queue();
  constexpr size_t n = 64, groups = 128 / fewer_under_tsan, total = n * groups;
  auto bad = ndl::array<int>::full({total}, -1, q);
  auto sums = ndl::array<double>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> b, ndl::view<double, 1> s,
                       ndl::local_accessor<double, 1> tile) {
        const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
        const size_t gi = it.get_global_id(0);
        int errors = 0;
        ndl::private_array<double, 512> p;  // 4 KiB on the work-item's stack
        ndl::private_array<wide, 3> w{ndl::zero_fill};
        ndl::private_array<int, 4, 4> m;
        for (size_t k = 0; k < p.size(); ++k)
          p[k] = static_cast<double>(gi * 1000 + k);
        for (int r = 0; r < 4; ++r)
          for (int c = 0; c < 4; ++c)
            m(r, c) = static_cast<int>(gi) * 16 + r * 4 + c;
        errors += reinterpret_cast<std::uintptr_t>(w.data()) % alignof(wide) != 0;
        for (int round = 0; round < 3; ++round) {
          tile[l] = p[static_cast<size_t>(round)];
          for (size_t k = 0; k < 4; ++k)
            w[static_cast<size_t>(round)].v[k] += static_cast<double>(gi + k);
          ndl::group_barrier(it.get_group());
          // Private values are untouched by the other work-items.
          for (size_t k = 0; k < p.size(); ++k)
            errors += p[k] != static_cast<double>(gi * 1000 + k);
          for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c)
              errors += m(r, c) != static_cast<int>(gi) * 16 + r * 4 + c;
          p[0] += tile[(l + 1) % nl];
          p[0] -= tile[(l + 1) % nl];
          ndl::group_barrier(it.get_group());
        }
        double sum = 0;
        for (size_t j = 0; j < 3; ++j)
          for (size_t k = 0; k < 4; ++k)
            sum += w[j].v[k];
        b[gi] = errors;
        s[gi] = sum;
      },
      ndl::nd_range<1>{{total}, {n}}, {}, bad, sums, ndl::local_accessor<double, 1>{{n}})));
  EXPECT_EQ(bad.to_host(), std::vector<int>(total, 0));
  const auto host = sums.to_host();
  for (size_t gi = 0; gi < total; ++gi)
    ASSERT_EQ(host[gi], static_cast<double>(3 * (4 * gi + 6))) << gi;
}

}  // namespace
