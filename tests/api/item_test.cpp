// ndl::item, ndl::nd_item and ndl::group (include/ndl/kernel/*.hpp), seen from kernels.
//
// Ported from numba-dpex's test_index_space_ids.py (SIZE 100, GROUP 20) to ndlaunch's
// row-major contract: the last dimension moves fastest, so the linear id of (i, j, k) in
// range{2, 3, 4} is (i * 3 + j) * 4 + k.
#include <gtest/gtest.h>

#include <cstdint>
#include <ndl/ndl.hpp>
#include <type_traits>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

constexpr ndl::size_t size = 100;
constexpr ndl::size_t group = 20;

static_assert(ndl::item<1>::dimensions == 1 && ndl::item<3>::dimensions == 3);
static_assert(ndl::nd_item<2>::dimensions == 2);
static_assert(ndl::group<3>::dimensions == 3);
static_assert(std::is_trivially_copyable_v<ndl::item<3>>);
static_assert(std::is_trivially_copyable_v<ndl::nd_item<3>>);
static_assert(std::is_trivially_copyable_v<ndl::group<3>>);

class item_test : public ndl_test::device_test {
 protected:
  ndl::array<float> zeros() const { return ndl::array<float>::zeros({size}, default_queue()); }
  /// A host vector of `size` zeros with the given (index, value) pairs set.
  static std::vector<float> expected(std::initializer_list<std::pair<ndl::size_t, float>> set) {
    std::vector<float> v(size, 0.0f);
    for (auto [i, x] : set)
      v[i] = x;
    return v;
  }
};

// --- item -----------------------------------------------------------------------------------

NDL_TEST_P(item_test, get_id_covers_the_range) {
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> o) { o[it.get_id(0)] = 1.0f; },
      ndl::range{size}, a);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 1.0f));
}

NDL_TEST_P(item_test, get_range) {
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> o) { o[it.get_range(0) - 1] = 1.0f; },
      ndl::range{size}, a);
  EXPECT_EQ(a.to_host(), expected({{99, 1.0f}}));
}

NDL_TEST_P(item_test, get_range_as_a_range) {
  auto out = ndl::array<ndl::size_t>::zeros({3}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<ndl::size_t, 1> o) {
        if (it.get_linear_id() != 0) return;
        const ndl::range<3> r = it.get_range();
        for (int d = 0; d < 3; ++d)
          o[static_cast<ndl::size_t>(d)] = r[d];
      },
      ndl::range{2, 3, 4}, out);
  EXPECT_EQ(out.to_host(), (std::vector<ndl::size_t>{2, 3, 4}));
}

NDL_TEST_P(item_test, get_linear_range) {
  auto a = zeros();
  auto k1 = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> o) {
    o[it.get_linear_range() - 1] = 1.0f;
  };
  ndl::call_kernel(k1, ndl::range{size}, a);
  EXPECT_EQ(a.to_host(), expected({{99, 1.0f}}));

  auto b = zeros();
  auto k3 = [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<float, 1> o) {
    o[it.get_linear_range() - 1] = 1.0f;
  };
  ndl::call_kernel(k3, ndl::range{1, 20, 5}, b);
  EXPECT_EQ(b.to_host(), expected({{99, 1.0f}}));
}

NDL_TEST_P(item_test, dimensions) {
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> o) {
        o[it.get_linear_id()] = static_cast<float>(it.dimensions);
      },
      ndl::range{size}, a);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 1.0f));
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<float, 1> o) {
        o[it.get_linear_id()] = static_cast<float>(it.dimensions);
      },
      ndl::range{size, 1}, a);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 2.0f));
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<float, 1> o) {
        o[it.get_linear_id()] = static_cast<float>(it.dimensions);
      },
      ndl::range{size, 1, 1}, a);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 3.0f));
}

// Range(2, 3, 4): every work-item has a distinct row-major linear id, and get_linear_id()
// agrees with the explicit formula.
NDL_TEST_P(item_test, index_order_is_row_major) {
  auto count = ndl::array<int>::zeros({24}, default_queue());
  auto linear = ndl::array<ndl::size_t>::zeros({24}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<int, 1> c, ndl::view<ndl::size_t, 1> lin) {
        const ndl::size_t i = it.get_id(0), j = it.get_id(1), k = it.get_id(2);
        const ndl::size_t explicit_id = (i * 3 + j) * 4 + k;
        c[explicit_id] += 1;
        lin[explicit_id] = it.get_linear_id();
      },
      ndl::range{2, 3, 4}, count, linear);
  EXPECT_EQ(count.to_host(), std::vector<int>(24, 1));
  const auto lin = linear.to_host();
  for (ndl::size_t x = 0; x < 24; ++x)
    EXPECT_EQ(lin[x], x);
}

// The same contract through a 3-D array: a(i, j, k) = linear id reads back as 0, 1, 2, ...
NDL_TEST_P(item_test, row_major_ids_match_row_major_arrays) {
  auto a = ndl::array<int, 3>::zeros({2, 3, 4}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<int, 3> o) {
        o(it.get_id(0), it.get_id(1), it.get_id(2)) = static_cast<int>(it.get_linear_id());
      },
      ndl::range{2, 3, 4}, a);
  const auto host = a.to_host();
  for (int x = 0; x < 24; ++x)
    EXPECT_EQ(host[static_cast<size_t>(x)], x);
}

struct item_rec_1 {
  ndl::size_t id[3], range[3], linear_id, linear_range;
};

// Every id and range of a 3-D item, checked on the host for every work-item.
NDL_TEST_P(item_test, all_queries_of_a_3d_item) {
  const std::vector<item_rec_1> init(60, item_rec_1{});
  auto out = ndl::array<item_rec_1, 3>::from_host(init, {3, 4, 5}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<item_rec_1, 3> o) {
        item_rec_1& r = o(it.get_id(0), it.get_id(1), it.get_id(2));
        for (int d = 0; d < 3; ++d) {
          r.id[d] = it.get_id(d);
          r.range[d] = it.get_range(d);
        }
        r.linear_id = it.get_linear_id();
        r.linear_range = it.get_linear_range();
      },
      ndl::range{3, 4, 5}, out);
  const auto host = out.to_host();
  for (ndl::size_t i = 0; i < 3; ++i)
    for (ndl::size_t j = 0; j < 4; ++j)
      for (ndl::size_t k = 0; k < 5; ++k) {
        const item_rec_1& r = host[(i * 4 + j) * 5 + k];
        ASSERT_EQ(r.id[0], i);
        ASSERT_EQ(r.id[1], j);
        ASSERT_EQ(r.id[2], k);
        ASSERT_EQ(r.range[0], 3u);
        ASSERT_EQ(r.range[1], 4u);
        ASSERT_EQ(r.range[2], 5u);
        ASSERT_EQ(r.linear_id, (i * 4 + j) * 5 + k);
        ASSERT_EQ(r.linear_range, 60u);
      }
}

// --- nd_item --------------------------------------------------------------------------------

NDL_TEST_P(item_test, nd_item_get_global_id) {
  auto a = zeros();
  ndl::call_kernel([] NDL_KERNEL_FN(ndl::nd_item<1> it,
                                    ndl::view<float, 1> o) { o[it.get_global_id(0)] = 1.0f; },
                   ndl::nd_range{{size}, {group}}, a);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 1.0f));
}

NDL_TEST_P(item_test, nd_item_get_local_id) {
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) { o[it.get_local_id(0)] = 1.0f; },
      ndl::nd_range{{size}, {group}}, a);
  std::vector<float> want(size, 0.0f);
  for (ndl::size_t i = 0; i < group; ++i)
    want[i] = 1.0f;
  EXPECT_EQ(a.to_host(), want);
}

// a[0] = global range - 1 (written by work-item 0) and a[global range - 1] = 1.
NDL_TEST_P(item_test, nd_item_get_global_range) {
  const auto want = expected({{0, 99.0f}, {99, 1.0f}});
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_global_range(0);
        if (it.get_global_id(0) == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{size}, {group}}, a);
  EXPECT_EQ(a.to_host(), want);

  auto b = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_global_linear_range();
        if (it.get_global_linear_id() == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{size}, {group}}, b);
  EXPECT_EQ(b.to_host(), want);

  auto c = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_global_range(2);
        if (it.get_global_id(2) == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{1, 1, size}, {1, 1, group}}, c);
  EXPECT_EQ(c.to_host(), want);

  auto d = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_global_linear_range();
        if (it.get_global_linear_id() == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{1, 1, size}, {1, 1, group}}, d);
  EXPECT_EQ(d.to_host(), want);
}

// a[0] = local range - 1 and a[local range - 1] = 1, five ways.
NDL_TEST_P(item_test, nd_item_get_local_range) {
  const auto want = expected({{0, 19.0f}, {19, 1.0f}});
  auto a = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_local_range(0);
        if (it.get_global_id(0) == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{size}, {group}}, a);
  EXPECT_EQ(a.to_host(), want);

  auto b = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_local_linear_range();
        if (it.get_global_id(0) == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{size}, {group}}, b);
  EXPECT_EQ(b.to_host(), want);

  auto c = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_group().get_local_linear_range();
        if (it.get_global_id(0) == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{size}, {group}}, c);
  EXPECT_EQ(c.to_host(), want);

  auto d = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_local_range(2);
        if (it.get_global_linear_id() == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{1, 1, size}, {1, 1, group}}, d);
  EXPECT_EQ(d.to_host(), want);

  auto e = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<float, 1> o) {
        const ndl::size_t r = it.get_group().get_local_range(2);
        if (it.get_global_linear_id() == 0) o[0] = static_cast<float>(r - 1);
        o[r - 1] = 1.0f;
      },
      ndl::nd_range{{1, 1, size}, {1, 1, group}}, e);
  EXPECT_EQ(e.to_host(), want);
}

NDL_TEST_P(item_test, nd_item_and_group_dimensions) {
  auto a = zeros();
  auto b = zeros();
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> o, ndl::view<float, 1> og) {
        o[it.get_global_linear_id()] = static_cast<float>(it.dimensions);
        og[it.get_global_linear_id()] = static_cast<float>(decltype(it.get_group())::dimensions);
      },
      ndl::nd_range{{size}, {group}}, a, b);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 1.0f));
  EXPECT_EQ(b.to_host(), std::vector<float>(size, 1.0f));
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<float, 1> o, ndl::view<float, 1> og) {
        o[it.get_global_linear_id()] = static_cast<float>(it.dimensions);
        og[it.get_global_linear_id()] = static_cast<float>(decltype(it.get_group())::dimensions);
      },
      ndl::nd_range{{size, 1}, {group, 1}}, a, b);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 2.0f));
  EXPECT_EQ(b.to_host(), std::vector<float>(size, 2.0f));
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<float, 1> o, ndl::view<float, 1> og) {
        o[it.get_global_linear_id()] = static_cast<float>(it.dimensions);
        og[it.get_global_linear_id()] = static_cast<float>(decltype(it.get_group())::dimensions);
      },
      ndl::nd_range{{size, 1, 1}, {group, 1, 1}}, a, b);
  EXPECT_EQ(a.to_host(), std::vector<float>(size, 3.0f));
  EXPECT_EQ(b.to_host(), std::vector<float>(size, 3.0f));
}

// NdRange((2, 3, 4), (1, 1, 4)): global linear ids cover 0..23 exactly once.
NDL_TEST_P(item_test, nd_item_index_order_is_row_major) {
  auto count = ndl::array<int>::zeros({24}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<int, 1> c) {
        const ndl::size_t i = it.get_global_id(0), j = it.get_global_id(1), k = it.get_global_id(2);
        if (it.get_global_linear_id() == (i * 3 + j) * 4 + k) c[it.get_global_linear_id()] += 1;
      },
      ndl::nd_range{{2, 3, 4}, {1, 1, 4}}, count);
  EXPECT_EQ(count.to_host(), std::vector<int>(24, 1));
}

NDL_TEST_P(item_test, nd_item_local_linear_id) {
  auto a = ndl::array<int>::zeros({24}, default_queue());
  ndl::call_kernel([] NDL_KERNEL_FN(ndl::nd_item<3> it,
                                    ndl::view<int, 1> o) { o[it.get_local_linear_id()] = 1; },
                   ndl::nd_range{{2, 3, 4}, {1, 1, 4}}, a);
  std::vector<int> want(24, 0);
  for (int i = 0; i < 4; ++i)
    want[static_cast<size_t>(i)] = 1;
  EXPECT_EQ(a.to_host(), want);
}

// --- group ----------------------------------------------------------------------------------

NDL_TEST_P(item_test, group_id_is_global_id_divided_by_group_size) {
  std::vector<int> want(size);
  for (ndl::size_t i = 0; i < size; ++i)
    want[i] = static_cast<int>(i / group);

  auto a = ndl::array<int>::zeros({size}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = static_cast<int>(it.get_group().get_group_id(0));
      },
      ndl::nd_range{{size}, {group}}, a);
  EXPECT_EQ(a.to_host(), want);

  auto b = ndl::array<int>::zeros({size}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = static_cast<int>(it.get_group().get_group_linear_id());
      },
      ndl::nd_range{{size}, {group}}, b);
  EXPECT_EQ(b.to_host(), want);

  auto c = ndl::array<int>::zeros({size}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<int, 1> o) {
        o[it.get_global_linear_id()] = static_cast<int>(it.get_group().get_group_linear_id());
      },
      ndl::nd_range{{1, 1, size}, {1, 1, group}}, c);
  EXPECT_EQ(c.to_host(), want);

  auto d = ndl::array<int>::zeros({size}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = static_cast<int>(it.get_group_id(0));
      },
      ndl::nd_range{{size}, {group}}, d);
  EXPECT_EQ(d.to_host(), want);
}

NDL_TEST_P(item_test, group_range_and_local_range) {
  auto gr = ndl::array<int>::zeros({size}, default_queue());
  auto glr = ndl::array<int>::zeros({size}, default_queue());
  auto ndgr = ndl::array<int>::zeros({size}, default_queue());
  auto lr = ndl::array<int>::zeros({size}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> a, ndl::view<int, 1> b,
                       ndl::view<int, 1> c, ndl::view<int, 1> d) {
        const ndl::size_t i = it.get_global_id(0);
        const ndl::group<1> g = it.get_group();
        a[i] = static_cast<int>(g.get_group_range(0));
        b[i] = static_cast<int>(g.get_group_linear_range());
        c[i] = static_cast<int>(it.get_group_range(0));
        d[i] = static_cast<int>(g.get_local_range(0));
      },
      ndl::nd_range{{size}, {group}}, gr, glr, ndgr, lr);
  EXPECT_EQ(gr.to_host(), std::vector<int>(size, 5));
  EXPECT_EQ(glr.to_host(), std::vector<int>(size, 5));
  EXPECT_EQ(ndgr.to_host(), std::vector<int>(size, 5));
  EXPECT_EQ(lr.to_host(), std::vector<int>(size, 20));
}

NDL_TEST_P(item_test, group_leader_is_local_linear_id_zero) {
  auto a = ndl::array<int, 2>::zeros({8, 12}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<int, 2> o) {
        o(it.get_global_id(0), it.get_global_id(1)) = it.get_group().leader() ? 1 : 0;
      },
      ndl::nd_range{{8, 12}, {4, 3}}, a);
  const auto host = a.to_host();
  int leaders = 0;
  for (ndl::size_t i = 0; i < 8; ++i)
    for (ndl::size_t j = 0; j < 12; ++j) {
      const int want = (i % 4 == 0 && j % 3 == 0) ? 1 : 0;
      EXPECT_EQ(host[i * 12 + j], want) << "(" << i << ", " << j << ")";
      leaders += host[i * 12 + j];
    }
  EXPECT_EQ(leaders, 8);  // one per work-group
}

struct item_rec_2 {
  ndl::size_t global[2], local[2], grp[2], global_range[2], local_range[2], group_range[2];
  ndl::size_t global_linear, local_linear, global_linear_range, local_linear_range;
  ndl::size_t g_id[2], g_range[2], g_local_range[2], g_linear, g_linear_range, g_local_linear_range;
  int leader, visits;
};

// Every query of nd_item and group in a 2-D nd-range, checked against the definitions for
// every work-item: global = group * local + local id, all linear ids row-major.
NDL_TEST_P(item_test, all_queries_of_a_2d_nd_item) {
  constexpr ndl::size_t rows = 6, cols = 8, lrows = 2, lcols = 4;
  // from_host rather than zeros: the record is larger than fill's 64-byte pattern limit.
  const std::vector<item_rec_2> init(rows * cols, item_rec_2{});
  auto out = ndl::array<item_rec_2, 2>::from_host(init, {rows, cols}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<item_rec_2, 2> o) {
        item_rec_2& r = o(it.get_global_id(0), it.get_global_id(1));
        const ndl::group<2> g = it.get_group();
        for (int d = 0; d < 2; ++d) {
          r.global[d] = it.get_global_id(d);
          r.local[d] = it.get_local_id(d);
          r.grp[d] = it.get_group_id(d);
          r.global_range[d] = it.get_global_range(d);
          r.local_range[d] = it.get_local_range(d);
          r.group_range[d] = it.get_group_range(d);
          r.g_id[d] = g.get_group_id(d);
          r.g_range[d] = g.get_group_range(d);
          r.g_local_range[d] = g.get_local_range(d);
        }
        r.global_linear = it.get_global_linear_id();
        r.local_linear = it.get_local_linear_id();
        r.global_linear_range = it.get_global_linear_range();
        r.local_linear_range = it.get_local_linear_range();
        r.g_linear = g.get_group_linear_id();
        r.g_linear_range = g.get_group_linear_range();
        r.g_local_linear_range = g.get_local_linear_range();
        r.leader = g.leader() ? 1 : 0;
        r.visits += 1;
      },
      ndl::nd_range{{rows, cols}, {lrows, lcols}}, out);
  const auto host = out.to_host();
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j) {
      SCOPED_TRACE(testing::Message() << "work-item (" << i << ", " << j << ")");
      const item_rec_2& r = host[i * cols + j];
      ASSERT_EQ(r.visits, 1);
      EXPECT_EQ(r.global[0], i);
      EXPECT_EQ(r.global[1], j);
      EXPECT_EQ(r.local[0], i % lrows);
      EXPECT_EQ(r.local[1], j % lcols);
      EXPECT_EQ(r.grp[0], i / lrows);
      EXPECT_EQ(r.grp[1], j / lcols);
      EXPECT_EQ(r.g_id[0], i / lrows);
      EXPECT_EQ(r.g_id[1], j / lcols);
      EXPECT_EQ(r.global_range[0], rows);
      EXPECT_EQ(r.global_range[1], cols);
      EXPECT_EQ(r.local_range[0], lrows);
      EXPECT_EQ(r.local_range[1], lcols);
      EXPECT_EQ(r.g_local_range[0], lrows);
      EXPECT_EQ(r.g_local_range[1], lcols);
      EXPECT_EQ(r.group_range[0], rows / lrows);
      EXPECT_EQ(r.group_range[1], cols / lcols);
      EXPECT_EQ(r.g_range[0], rows / lrows);
      EXPECT_EQ(r.g_range[1], cols / lcols);
      EXPECT_EQ(r.global_linear, i * cols + j);
      EXPECT_EQ(r.local_linear, (i % lrows) * lcols + j % lcols);
      EXPECT_EQ(r.global_linear_range, rows * cols);
      EXPECT_EQ(r.local_linear_range, lrows * lcols);
      EXPECT_EQ(r.g_linear, (i / lrows) * (cols / lcols) + j / lcols);
      EXPECT_EQ(r.g_linear_range, (rows / lrows) * (cols / lcols));
      EXPECT_EQ(r.g_local_linear_range, lrows * lcols);
      EXPECT_EQ(r.leader, (i % lrows == 0 && j % lcols == 0) ? 1 : 0);
    }
}

// 3-D group ids are row-major too: (gi, gj, gk) of group range (2, 3, 2) has linear id
// (gi * 3 + gj) * 2 + gk.
NDL_TEST_P(item_test, group_linear_id_is_row_major_in_3d) {
  auto out = ndl::array<int, 3>::zeros({4, 9, 4}, default_queue());
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<3> it, ndl::view<int, 3> o) {
        const ndl::group<3> g = it.get_group();
        const ndl::size_t want =
            (g.get_group_id(0) * g.get_group_range(1) + g.get_group_id(1)) * g.get_group_range(2) +
            g.get_group_id(2);
        o(it.get_global_id(0), it.get_global_id(1), it.get_global_id(2)) =
            g.get_group_linear_id() == want && g.get_group_linear_range() == 12 ? 1 : 0;
      },
      ndl::nd_range{{4, 9, 4}, {2, 3, 2}}, out);
  EXPECT_EQ(out.to_host(), std::vector<int>(4 * 9 * 4, 1));
}

// --- 64-bit index arithmetic, without launching billions of work-items ---------------------

NDL_TEST(item_arithmetic_test, linear_ids_are_64_bit) {
  const ndl::size_t id[3] = {(ndl::size_t{1} << 33) + 5, 7, 9};
  const ndl::size_t r[3] = {ndl::size_t{1} << 34, 11, 13};
  const ndl::size_t want = ((id[0] * 11) + 7) * 13 + 9;
  EXPECT_EQ(ndl::detail::linearize<3>(id, r), want);
  EXPECT_GT(want, ndl::size_t{1} << 32);
  const ndl::item<3> it = ndl::detail::item_access::make_item<3>(id, r);
  EXPECT_EQ(it.get_linear_id(), want);
  EXPECT_EQ(it.get_linear_range(), (ndl::size_t{1} << 34) * 143);
  EXPECT_EQ(it.get_id(0), id[0]);
  EXPECT_EQ(it.get_range(0), r[0]);
}

NDL_TEST(item_arithmetic_test, nd_item_ids_are_64_bit) {
  const ndl::size_t local_id[2] = {3, 1000};
  const ndl::size_t group_id[2] = {ndl::size_t{1} << 31, 2};
  const ndl::size_t local_range[2] = {4, 1024};
  const ndl::size_t group_range[2] = {ndl::size_t{1} << 32, 3};
  const auto it =
      ndl::detail::item_access::make_nd_item<2>(local_id, group_id, local_range, group_range);
  const ndl::size_t g0 = (ndl::size_t{1} << 31) * 4 + 3;
  EXPECT_EQ(it.get_global_id(0), g0);
  EXPECT_EQ(it.get_global_id(1), 2u * 1024 + 1000);
  EXPECT_EQ(it.get_global_range(0), (ndl::size_t{1} << 32) * 4);
  EXPECT_EQ(it.get_global_linear_id(), g0 * 3072 + 3048);
  EXPECT_EQ(it.get_global_linear_range(), (ndl::size_t{1} << 34) * 3072);
  EXPECT_EQ(it.get_group().get_group_linear_id(), (ndl::size_t{1} << 31) * 3 + 2);
  EXPECT_EQ(it.get_group().get_group_linear_range(), (ndl::size_t{1} << 32) * 3);
  EXPECT_FALSE(it.get_group().leader());
}

}  // namespace
