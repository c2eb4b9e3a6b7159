// Checked mode (CMake option NDL_CHECKED; include/ndl/memory/view.hpp, detail/checked.hpp):
// every ndl::view access is bounds-checked on every device, and the first out-of-bounds
// access fails the launch with kernel_failure naming the kernel, the work-item, the argument,
// the index and the extent. 1-, 2- and 3-D views, negative indices, an index equal to the
// extent, slices (their own extent, not the parent's), nd-range kernels with local memory
// and barriers, views passed directly, made or captured by the kernel, synchronous and
// asynchronous launches; only the first access is reported; the queue and the device keep
// working; in-bounds kernels compute what they compute unchecked.
//
// In an unchecked build the tests that go out of bounds skip (they would be undefined
// behaviour); the layout test runs in both and proves that an unchecked view costs nothing.
#include <gtest/gtest.h>

#include <cstddef>
#include <ndl/ndl.hpp>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

class checked_test : public ndl_test::device_test {};

// Whether this is a checked build (a function, so that compilers do not see a constant
// condition in the skips below).
bool checked_build() {
  return NDL_CHECKED != 0;
}

#define NDL_SKIP_UNLESS_CHECKED()                                                              \
  do {                                                                                         \
    if (!checked_build())                                                                      \
      GTEST_SKIP() << "this test goes out of bounds on purpose: it needs a checked build "     \
                      "(configure with -DNDL_CHECKED=ON); unchecked, the access is undefined " \
                      "behaviour";                                                             \
  } while (0)

// The parts of a message every out-of-bounds failure carries.
size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1))
    ++n;
  return n;
}

std::vector<float> iota_f(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// Unchecked, a view is a pointer, the shape and the strides: nothing else, so it costs what
// a raw pointer and two arrays cost. Checked, it also carries its argument's position.
NDL_TEST(checked_test, view_layout) {
  constexpr size_t plain = sizeof(float*) + 2 * sizeof(size_t) + 2 * sizeof(ptrdiff_t);
  static_assert(std::is_trivially_copyable_v<ndl::view<float, 2>>);
  static_assert(std::is_trivially_copyable_v<ndl::view<const double, 3>>);
#if NDL_CHECKED
  static_assert(sizeof(ndl::view<float, 2>) == plain + alignof(ptrdiff_t));
#else
  static_assert(sizeof(ndl::view<float, 2>) == plain);
  static_assert(sizeof(ndl::view<double, 1>) == sizeof(double*) + 2 * sizeof(size_t));
  static_assert(sizeof(ndl::view<int, 3>) == sizeof(int*) + 6 * sizeof(size_t));
#endif
}

// Host code may use views too: there an out-of-bounds access throws at once.
NDL_TEST(checked_test, host_access_throws) {
  if (!checked_build()) GTEST_SKIP() << "needs a checked build (-DNDL_CHECKED=ON)";
  std::vector<int> data(12);
  const size_t shape[2] = {3, 4};
  const ptrdiff_t strides[2] = {4, 1};
  ndl::view<int, 2> v(data.data(), shape, strides);
  v(2, 3) = 1;
  EXPECT_EQ(data[11], 1);
  NDL_EXPECT_ERROR(v(3, 0) = 1, ndl::errc::kernel_failure, "a view that is not a kernel argument",
                   "index (3, 0) is outside extent (3, 4)", "(dimension 0)");
  NDL_EXPECT_ERROR(v(0, -1) = 1, ndl::errc::kernel_failure, "index (0, -1)", "(dimension 1)");
}

NDL_TEST_P(checked_test, one_dim_index_equal_to_extent) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<float>::from_host(iota_f(10), q);
  auto b = ndl::array<float>::zeros({10}, q);
  const auto shift = ndl::named(
      "shift_left",
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const float, 1> in, ndl::view<float, 1> out) {
        const size_t i = it.get_id(0);
        out[i] = in[i == 7 ? 10 : i];  // work-item 7 reads one past the end
      });
  NDL_EXPECT_ERROR(ndl::call_kernel(shift, ndl::range{10}, a, b), ndl::errc::kernel_failure,
                   "kernel 'shift_left'", "work-item (7)", "out-of-bounds access to argument 0",
                   "ndl::view<float, 1>", "index (10) is outside extent (10)");
}

NDL_TEST_P(checked_test, two_dim_names_everything) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<float, 2>::zeros({4, 4}, q);
  auto b = ndl::array<int, 2>::zeros({6, 5}, q);
  const auto k = ndl::named("two_dim", [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> out,
                                                        float scale, ndl::view<float, 2> v) {
    const size_t i = it.get_id(0), j = it.get_id(1);
    out(i, j) = 1;
    if (i == 5 && j == 3) v(i, j) = scale;  // (5, 3) is outside (4, 4)
  });
  const std::string msg = ndl_test::error_message([&] {
    ndl::call_kernel(k, ndl::range{6, 5}, b, 2.0f, a);
  });
  EXPECT_NE(msg.find("kernel 'two_dim' failed at work-item (5, 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out-of-bounds access to argument 2 (ndl::view<float, 2>): index (5, 3) "
                     "is outside extent (4, 4) (dimension 0)"),
            std::string::npos)
      << msg;
}

NDL_TEST_P(checked_test, three_dim_and_negative_index) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<int, 3>::zeros({2, 3, 4}, q);
  const auto k = ndl::named("three_dim", [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<int, 3> v) {
    const auto i = static_cast<long>(it.get_id(0));
    const auto j = static_cast<long>(it.get_id(1));
    const auto l = static_cast<long>(it.get_id(2));
    // Work-item (1, 2, 0) reads its left neighbour without checking for the edge.
    v(i, j, l) = (i == 1 && j == 2 && l == 0) ? v(i, j, l - 1) : 1;
  });
  NDL_EXPECT_ERROR(ndl::call_kernel(k, ndl::range{2, 3, 4}, a), ndl::errc::kernel_failure,
                   "kernel 'three_dim'", "work-item (1, 2, 0)", "argument 0", "ndl::view<int, 3>",
                   "index (1, 2, -1) is outside extent (2, 3, 4)", "(dimension 2)");
}

// A slice has its own extent: an index inside the parent array but outside the slice fails.
NDL_TEST_P(checked_test, slices_check_their_own_extent) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto parent = ndl::array<int, 2>::zeros({8, 6}, q);
  auto top = parent(ndl::slice(0, 4), ndl::all);                    // rows 0..3
  auto odd_cols = parent(ndl::all, ndl::slice(1, 6, 2));            // columns 1, 3, 5
  auto reversed = parent(ndl::slice(7, -1, -1), ndl::slice(0, 2));  // negative stride
  const auto fill_row = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 2> v, size_t row) {
    v(row, it.get_id(0)) = 7;
  };
  NDL_EXPECT_ERROR(ndl::call_kernel(fill_row, ndl::range{6}, top, size_t{4}),
                   ndl::errc::kernel_failure, "index (4, ", "outside extent (4, 6)");
  NDL_EXPECT_ERROR(ndl::call_kernel(fill_row, ndl::range{4}, odd_cols, size_t{0}),
                   ndl::errc::kernel_failure, "work-item (3)", "index (0, 3)",
                   "outside extent (8, 3)", "(dimension 1)");
  NDL_EXPECT_ERROR(ndl::call_kernel(fill_row, ndl::range{3}, reversed, size_t{1}),
                   ndl::errc::kernel_failure, "work-item (2)", "index (1, 2)",
                   "outside extent (8, 2)");
  // In bounds, every slice writes where it should; the elements the failed accesses would
  // have reached unchecked (all inside the parent) were not written.
  ndl::call_kernel(fill_row, ndl::range{6}, top, size_t{3});
  ndl::call_kernel(fill_row, ndl::range{3}, odd_cols, size_t{7});
  const auto h = parent.to_host();
  const auto at = [&](size_t i, size_t j) { return h[i * 6 + j]; };
  for (size_t j = 0; j < 6; ++j) {
    EXPECT_EQ(at(3, j), 7) << "row 3 of top";
    EXPECT_EQ(at(4, j), 0) << "row 4 (top(4, j))";
  }
  for (size_t j = 1; j < 6; j += 2)
    EXPECT_EQ(at(7, j), 7) << "odd_cols(7, j)";
  EXPECT_EQ(at(1, 1), 0) << "odd_cols(0, 3)";
  EXPECT_EQ(at(6, 2), 0) << "reversed(1, 2)";
}

// A group reduction through local memory and barriers, with an off-by-one in one group.
struct tree_sum_kernel {
  size_t bad_group;
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<const int, 1> in,
                                ndl::view<int, 1> sums, ndl::local_accessor<int, 1> tile) const {
    const size_t l = it.get_local_id(0);
    const size_t n = it.get_local_range(0);
    tile[l] = in[it.get_global_id(0)];
    ndl::group_barrier(it.get_group());
    for (size_t half = n / 2; half > 0; half /= 2) {
      if (l < half) tile[l] += tile[l + half];
      ndl::group_barrier(it.get_group());
    }
    const size_t g = it.get_group().get_group_id(0);
    // The bad group's leader writes one past its slot... in the last group, past the end.
    if (l == 0) sums[g == bad_group ? g + 1 : g] = tile[0];
  }
};

NDL_TEST_P(checked_test, nd_range_with_local_memory_and_barriers) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  constexpr size_t groups = 8, n = 32;
  std::vector<int> values(groups * n);
  std::iota(values.begin(), values.end(), 1);
  auto in = ndl::array<int>::from_host(values, q);
  auto sums = ndl::array<int>::zeros({groups}, q);
  const ndl::nd_range<1> space({groups * n}, {n});
  NDL_EXPECT_ERROR(ndl::call_kernel(ndl::named("tree_sum", tree_sum_kernel{groups - 1}), space, in,
                                    sums, ndl::local_accessor<int, 1>{{n}}),
                   ndl::errc::kernel_failure, "kernel 'tree_sum'",
                   "work-item (" + std::to_string((groups - 1) * n) + ")", "argument 1",
                   "index (8) is outside extent (8)");
  // Asynchronously, and the same kernel without the bug.
  auto [host, devev] =
      ndl::call_kernel_async(ndl::named("tree_sum", tree_sum_kernel{groups - 1}), space, {}, in,
                             sums, ndl::local_accessor<int, 1>{{n}});
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "work-item (224)", "index (8)");
  NDL_EXPECT_ERROR(host.wait(), ndl::errc::kernel_failure, "work-item (224)", "index (8)");
  ndl::call_kernel(tree_sum_kernel{groups}, space, in, sums, ndl::local_accessor<int, 1>{{n}});
  const auto h = sums.to_host();
  for (size_t g = 0; g < groups; ++g) {
    const int first = static_cast<int>(g * n) + 1, last = static_cast<int>((g + 1) * n);
    EXPECT_EQ(h[g], (first + last) * static_cast<int>(n) / 2) << "group " << g;
  }
}

// 2-D nd-range: the work-item is the global id, made of the group and the local id.
NDL_TEST_P(checked_test, nd_range_names_the_global_id) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<float, 2>::zeros({8, 8}, q);
  const auto k = ndl::named("nd2", [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<float, 2> v) {
    const size_t i = it.get_global_id(0), j = it.get_global_id(1);
    ndl::group_barrier(it.get_group());
    v(i, j == 5 && i == 6 ? j + 3 : j) = 1;
  });
  NDL_EXPECT_ERROR(ndl::call_kernel(k, ndl::nd_range<2>({8, 8}, {4, 4}), a),
                   ndl::errc::kernel_failure, "kernel 'nd2'", "work-item (6, 5)",
                   "index (6, 8) is outside extent (8, 8)");
}

// A view passed as an argument directly is named by its position like an array; one the
// kernel captured, or made itself, is not an argument.
NDL_TEST_P(checked_test, views_passed_directly_captured_or_made) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<int>::zeros({5}, q);
  const ndl::view<int, 1> v = a.get_view();
  const auto write = [] NDL_KERNEL_FN(ndl::item<1> it, int value, ndl::view<int, 1> out) {
    out[it.get_id(0) + 1] = value;
  };
  NDL_EXPECT_ERROR(ndl::call_kernel(q, write, ndl::range{5}, 3, v), ndl::errc::kernel_failure,
                   "work-item (4)", "argument 1 (ndl::view<int, 1>)", "index (5)");
  NDL_EXPECT_ERROR(ndl::call_kernel(write, ndl::range{5}, 3, a), ndl::errc::kernel_failure,
                   "work-item (4)", "argument 1 (ndl::view<int, 1>)", "index (5)");
  const auto captured = [v] NDL_KERNEL_FN(ndl::item<1> it) { v[it.get_id(0) * 2] = 1; };
  NDL_EXPECT_ERROR(ndl::call_kernel(q, captured, ndl::range{5}), ndl::errc::kernel_failure,
                   "a view that is not a kernel argument", "index (", "outside extent (5)");
  const auto made = [] NDL_KERNEL_FN(ndl::item<1> it, int* p) {
    ndl::view<int, 1> w(p, 2);
    w[it.get_id(0)] = 1;
  };
  NDL_EXPECT_ERROR(ndl::call_kernel(q, made, ndl::range{3}, a.get_view().data()),
                   ndl::errc::kernel_failure, "work-item (2)",
                   "a view that is not a kernel argument", "index (2) is outside extent (2)");
}

// Every work-item goes out of bounds: the launch reports one access, once.
NDL_TEST_P(checked_test, only_the_first_access_is_reported) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = default_queue();
  auto a = ndl::array<int, 2>::zeros({64, 64}, q);
  const auto all_bad =
      ndl::named("all_bad", [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> v) {
        v(it.get_id(0) + 64, it.get_id(1)) = 1;
        v(it.get_id(0), it.get_id(1) + 64) = 2;
      });
  const std::string msg = ndl_test::error_message([&] {
    ndl::call_kernel(all_bad, ndl::range{64, 64}, a);
  });
  EXPECT_EQ(count(msg, "out-of-bounds"), 1u) << msg;
  EXPECT_EQ(count(msg, "kernel 'all_bad'"), 1u) << msg;
  EXPECT_NE(msg.find("(dimension 0)"), std::string::npos) << msg;  // the first access
  // The queue reports it once: nothing is left for q.wait().
  EXPECT_NO_THROW(q.wait());
  auto [host, devev] = ndl::call_kernel_async(all_bad, ndl::range{64, 64}, {}, a);
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "all_bad");
  NDL_EXPECT_ERROR(host.wait(), ndl::errc::kernel_failure, "all_bad");
  ndl_test::drain(q);
  EXPECT_EQ(a.to_host(), std::vector<int>(64 * 64, 0)) << "no access went anywhere";
}

// After a failed launch the queue and the device keep working, on this and on new queues,
// and several failed launches in flight each report their own access.
NDL_TEST_P(checked_test, queue_and_device_keep_working) {
  NDL_SKIP_UNLESS_CHECKED();
  auto q = make_queue(/*in_order=*/false);
  const auto poke = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, size_t bad) {
    const size_t i = it.get_id(0);
    v[i == bad ? 100 + bad : i] += 1;
  };
  std::vector<ndl::array<int>> arrays;
  std::vector<ndl::launch_events> launches;
  for (size_t k = 0; k < 6; ++k) {
    arrays.push_back(ndl::array<int>::zeros({100}, q));
    launches.push_back(ndl::call_kernel_async(poke, ndl::range{100}, {}, arrays[k], k * 10 + 1));
  }
  for (size_t k = 0; k < 6; ++k) {
    const std::string id = std::to_string(k * 10 + 1);
    NDL_EXPECT_ERROR(launches[k].device_event.wait(), ndl::errc::kernel_failure,
                     "work-item (" + id + ")", "index (" + std::to_string(100 + k * 10 + 1) + ")");
  }
  ndl_test::drain(q);
  auto b = ndl::array<int>::zeros({100}, q);
  ndl::call_kernel(poke, ndl::range{100}, b, size_t{1000});
  EXPECT_EQ(b.to_host(), std::vector<int>(100, 1));
  auto q2 = make_queue();
  auto c = ndl::array<int>::zeros({100}, q2);
  ndl::call_kernel(poke, ndl::range{100}, c, size_t{1000});
  EXPECT_EQ(c.to_host(), std::vector<int>(100, 1));
}

// In bounds, checked kernels compute exactly what unchecked ones do (a 2-D stencil that
// reads its neighbours, guarded at the edges).
NDL_TEST_P(checked_test, in_bounds_kernels_give_the_same_results) {
  auto q = default_queue();
  constexpr size_t rows = 33, cols = 47;
  auto in = ndl::array<float, 2>::from_host(iota_f(rows * cols), {rows, cols}, q);
  auto out = ndl::array<float, 2>::zeros({rows, cols}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<const float, 2> a, ndl::view<float, 2> b) {
        const size_t i = it.get_id(0), j = it.get_id(1);
        float s = a(i, j);
        if (i > 0) s += a(i - 1, j);
        if (i + 1 < a.extent(0)) s += a(i + 1, j);
        if (j > 0) s += a(i, j - 1);
        if (j + 1 < a.extent(1)) s += a(i, j + 1);
        b(i, j) = s;
      },
      ndl::range{rows, cols}, in, out);
  const auto h = out.to_host();
  const auto x = iota_f(rows * cols);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      float s = x[i * cols + j];
      if (i > 0) s += x[(i - 1) * cols + j];
      if (i + 1 < rows) s += x[(i + 1) * cols + j];
      if (j > 0) s += x[i * cols + j - 1];
      if (j + 1 < cols) s += x[i * cols + j + 1];
      ASSERT_EQ(h[i * cols + j], s) << "(" << i << ", " << j << ")";
    }
}

}  // namespace
