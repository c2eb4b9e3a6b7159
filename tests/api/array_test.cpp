// ndl::array, ndl::slice and ndl::view (include/ndl/memory/array.hpp, view.hpp): factories,
// host transfers, C and F order, slicing, and kernels writing through strided views.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <memory>
#include <ndl/ndl.hpp>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

static_assert(std::is_trivially_copyable_v<ndl::view<float, 3>>);
static_assert(std::is_convertible_v<ndl::view<int, 2>, ndl::view<const int, 2>>);
static_assert(!std::is_convertible_v<ndl::view<const int, 2>, ndl::view<int, 2>>);
static_assert(
    std::is_same_v<decltype(std::declval<ndl::array<int, 2>>()(1, ndl::all)), ndl::array<int, 1>>);
static_assert(
    std::is_same_v<decltype(std::declval<ndl::array<int, 3>>()(ndl::all, 2, ndl::slice(0, 1))),
                   ndl::array<int, 2>>);

std::vector<int> iota(ndl::size_t n, int first = 0) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

class array_test : public ndl_test::device_test {};

// --- factories and host transfers ------------------------------------------------------------

NDL_TEST_P(array_test, factories) {
  auto q = default_queue();
  auto z = ndl::array<double, 2>::zeros({3, 4}, q);
  EXPECT_TRUE(z.shape() == (ndl::range{3, 4}));
  EXPECT_EQ(z.size(), 12u);
  EXPECT_EQ(z.shape(1), 4u);
  EXPECT_TRUE(z.get_queue() == q);
  EXPECT_EQ(z.to_host(), std::vector<double>(12, 0.0));

  auto f = ndl::array<std::int16_t, 3>::full({2, 2, 2}, std::int16_t{-9}, q);
  EXPECT_EQ(f.to_host(), std::vector<std::int16_t>(8, -9));

  const auto host = iota(6, 10);
  auto h = ndl::array<int, 2>::from_host(host, {2, 3}, q);
  EXPECT_EQ(h.to_host(), host);
  auto h1 = ndl::array<int>::from_host(host, q);
  EXPECT_TRUE(h1.shape() == ndl::range<1>{6});
  EXPECT_EQ(h1.to_host(), host);

  auto e = ndl::array<float>::empty({5}, q);
  EXPECT_EQ(e.size(), 5u);
  EXPECT_NE(e.data(), nullptr);
  auto kinds = ndl::array<int>(ndl::range{7}, q, ndl::layout::c, ndl::usm_kind::shared);
  EXPECT_EQ(ndl::get_pointer_info(kinds.data()).kind, ndl::usm_kind::shared);
  EXPECT_EQ(ndl::get_pointer_info(z.data()).kind, ndl::usm_kind::device);
}

NDL_TEST_P(array_test, copy_to_and_from_host) {
  auto q = default_queue();
  auto a = ndl::array<int, 2>::zeros({4, 5}, q);
  const auto src = iota(20);
  a.copy_from_host(src);
  std::vector<int> dst(20, -1);
  a.copy_to_host(dst);
  EXPECT_EQ(dst, src);
  std::vector<int> dst2(20, -1);
  const ndl::event e = a.copy_to_host_async(dst2);
  e.wait();
  EXPECT_EQ(dst2, src);
  const auto src2 = iota(20, 100);
  a.copy_from_host_async(src2).wait();
  EXPECT_EQ(a.to_host(), src2);
}

NDL_TEST_P(array_test, host_size_mismatch_is_an_invalid_argument) {
  auto q = default_queue();
  auto a = ndl::array<int, 2>::zeros({2, 2}, q);
  std::vector<int> three(3), five(5);
  NDL_EXPECT_ERROR(a.copy_from_host(three), ndl::errc::invalid_argument, "3", "4");
  NDL_EXPECT_ERROR(a.copy_to_host(five), ndl::errc::invalid_argument, "5", "4");
  NDL_EXPECT_ERROR(a.copy_to_host_async(five), ndl::errc::invalid_argument, "5", "4");
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::array<int, 2>::from_host(three, {2, 2}, q);
      },
      ndl::errc::invalid_argument, {"3", "4"}));
  EXPECT_EQ(a.to_host(), std::vector<int>(4, 0));
}

// Copies of an array share its memory; the memory lives as long as any of them.
NDL_TEST_P(array_test, copies_share_memory) {
  auto q = default_queue();
  auto a = ndl::array<int>::zeros({4}, q);
  auto b = a;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(a.owner(), b.owner());
  b.copy_from_host(std::vector<int>{1, 2, 3, 4});
  EXPECT_EQ(a.to_host(), (std::vector<int>{1, 2, 3, 4}));
  std::weak_ptr<const void> weak = a.owner();
  { auto c = std::move(a); }
  EXPECT_FALSE(weak.expired());
  b = ndl::array<int>();
  EXPECT_TRUE(weak.expired());
}

// --- C and F order ---------------------------------------------------------------------------

NDL_TEST_P(array_test, c_and_f_order_strides) {
  auto q = default_queue();
  auto c = ndl::array<int, 3>(ndl::range{2, 3, 4}, q, ndl::layout::c);
  EXPECT_EQ(c.stride(0), 12);
  EXPECT_EQ(c.stride(1), 4);
  EXPECT_EQ(c.stride(2), 1);
  EXPECT_TRUE(c.is_c_contiguous());
  EXPECT_FALSE(c.is_f_contiguous());
  auto f = ndl::array<int, 3>(ndl::range{2, 3, 4}, q, ndl::layout::f);
  EXPECT_EQ(f.stride(0), 1);
  EXPECT_EQ(f.stride(1), 2);
  EXPECT_EQ(f.stride(2), 6);
  EXPECT_TRUE(f.is_f_contiguous());
  EXPECT_FALSE(f.is_c_contiguous());
  // 1-D arrays are both.
  auto one = ndl::array<int>(ndl::range{5}, q, ndl::layout::f);
  EXPECT_TRUE(one.is_c_contiguous() && one.is_f_contiguous());
}

// A kernel writing a(i, j) = 10 i + j reads back in row-major order whatever the layout; the
// memory of an F-order array is column-major.
NDL_TEST_P(array_test, kernels_index_f_order_arrays_by_position) {
  auto q = default_queue();
  const auto fill = [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> v) {
    v(it.get_id(0), it.get_id(1)) = static_cast<int>(it.get_id(0) * 10 + it.get_id(1));
  };
  std::vector<int> row_major;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      row_major.push_back(i * 10 + j);
  for (auto order : {ndl::layout::c, ndl::layout::f}) {
    auto a = ndl::array<int, 2>::zeros({3, 4}, q, order);
    ndl::call_kernel(fill, ndl::range{3, 4}, a);
    EXPECT_EQ(a.to_host(), row_major);
    std::vector<int> raw(12);
    q.memcpy(raw.data(), a.data(), sizeof(int) * 12);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) {
        const int at = order == ndl::layout::c ? i * 4 + j : j * 3 + i;
        EXPECT_EQ(raw[static_cast<size_t>(at)], i * 10 + j) << "memory layout";
      }
  }
}

NDL_TEST_P(array_test, f_order_host_transfers_are_row_major) {
  auto q = default_queue();
  const auto host = iota(24);
  auto f = ndl::array<int, 3>::from_host(host, {2, 3, 4}, q, ndl::layout::f);
  EXPECT_EQ(f.to_host(), host);
  // Element (1, 2, 3) is at 1 + 2*2 + 3*6 = 23 in memory and holds row-major value 23.
  std::vector<int> raw(24);
  q.memcpy(raw.data(), f.data(), sizeof(int) * 24);
  EXPECT_EQ(raw[1 + 2 * 2 + 3 * 6], (1 * 3 + 2) * 4 + 3);
  EXPECT_EQ(raw[1], 12);  // (1, 0, 0)
}

// --- slicing ---------------------------------------------------------------------------------

NDL_TEST_P(array_test, slice_with_step_selects_every_other_row) {
  auto q = default_queue();
  auto a = ndl::array<int, 2>::from_host(iota(35), {7, 5}, q);
  auto s = a(ndl::slice(0, 7, 2), ndl::all);
  EXPECT_TRUE(s.shape() == (ndl::range{4, 5}));
  EXPECT_EQ(s.stride(0), 10);
  EXPECT_EQ(s.stride(1), 1);
  EXPECT_EQ(s.data(), a.data());
  EXPECT_FALSE(s.is_c_contiguous());
  std::vector<int> want;
  for (int i = 0; i < 7; i += 2)
    for (int j = 0; j < 5; ++j)
      want.push_back(i * 5 + j);
  EXPECT_EQ(s.to_host(), want);
  EXPECT_EQ(s.owner(), a.owner());
}

NDL_TEST_P(array_test, integer_index_drops_a_dimension) {
  auto q = default_queue();
  auto a = ndl::array<int, 3>::from_host(iota(24), {2, 3, 4}, q);
  auto row = a(1, 2, ndl::all);  // elements 20..23
  static_assert(std::is_same_v<decltype(row), ndl::array<int, 1>>);
  EXPECT_EQ(row.to_host(), (std::vector<int>{20, 21, 22, 23}));
  auto col = a(ndl::all, 1, 3);  // (0,1,3)=7, (1,1,3)=19
  EXPECT_EQ(col.to_host(), (std::vector<int>{7, 19}));
  EXPECT_EQ(col.stride(0), 12);
  auto plane = a(ndl::all, 0, ndl::all);
  static_assert(std::is_same_v<decltype(plane), ndl::array<int, 2>>);
  EXPECT_EQ(plane.to_host(), (std::vector<int>{0, 1, 2, 3, 12, 13, 14, 15}));
}

NDL_TEST_P(array_test, negative_step_reverses) {
  auto q = default_queue();
  auto a = ndl::array<int>::from_host(iota(6), q);
  auto r = a(ndl::slice(5, -1, -1));
  EXPECT_EQ(r.size(), 6u);
  EXPECT_EQ(r.stride(0), -1);
  EXPECT_EQ(r.to_host(), (std::vector<int>{5, 4, 3, 2, 1, 0}));
  auto r2 = a(ndl::slice(4, 0, -2));  // 4, 2
  EXPECT_EQ(r2.to_host(), (std::vector<int>{4, 2}));
  // Reversed along one dimension of a 2-D array.
  auto b = ndl::array<int, 2>::from_host(iota(6), {2, 3}, q);
  auto rb = b(ndl::all, ndl::slice(2, -1, -1));
  EXPECT_EQ(rb.to_host(), (std::vector<int>{2, 1, 0, 5, 4, 3}));
  // Writing through it.
  rb.copy_from_host(std::vector<int>{10, 11, 12, 13, 14, 15});
  EXPECT_EQ(b.to_host(), (std::vector<int>{12, 11, 10, 15, 14, 13}));
}

NDL_TEST_P(array_test, slice_of_a_slice) {
  auto q = default_queue();
  auto a = ndl::array<int>::from_host(iota(20), q);
  auto s1 = a(ndl::slice(1, 19, 2));  // 1 3 5 ... 17 (9 elements)
  auto s2 = s1(ndl::slice(2, 8, 3));  // s1[2]=5, s1[5]=11
  EXPECT_EQ(s1.size(), 9u);
  EXPECT_EQ(s2.to_host(), (std::vector<int>{5, 11}));
  EXPECT_EQ(s2.stride(0), 6);
  auto s3 = s1(ndl::slice(8, -1, -4));  // s1[8]=17, s1[4]=9, s1[0]=1
  EXPECT_EQ(s3.to_host(), (std::vector<int>{17, 9, 1}));
  EXPECT_EQ(s3.owner(), a.owner());
  // The sub-view keeps the memory alive alone.
  std::weak_ptr<const void> weak = a.owner();
  a = ndl::array<int>();
  s1 = ndl::array<int>();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(s3.to_host(), (std::vector<int>{17, 9, 1}));
  s2 = ndl::array<int>();
  s3 = ndl::array<int>();
  EXPECT_TRUE(weak.expired());
}

NDL_TEST_P(array_test, size_one_and_size_zero_dimensions) {
  auto q = default_queue();
  auto one = ndl::array<int, 3>::from_host(iota(5), {1, 5, 1}, q);
  EXPECT_TRUE(one.is_c_contiguous());
  EXPECT_EQ(one.to_host(), iota(5));
  auto picked = one(0, ndl::slice(1, 5, 3), 0);  // 1, 4
  EXPECT_EQ(picked.to_host(), (std::vector<int>{1, 4}));

  auto empty = ndl::array<int, 2>::zeros({3, 0}, q);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.to_host().empty());
  std::vector<int> none;
  EXPECT_NO_THROW(empty.copy_from_host(none));
  auto empty1 = ndl::array<int>::zeros({0}, q);
  EXPECT_EQ(empty1.size(), 0u);
  EXPECT_TRUE(empty1.to_host().empty());
  // An empty slice.
  auto a = ndl::array<int>::from_host(iota(4), q);
  auto nothing = a(ndl::slice(2, 2));
  EXPECT_EQ(nothing.size(), 0u);
  EXPECT_TRUE(nothing.to_host().empty());
  auto at_end = a(ndl::slice(4, 4));
  EXPECT_EQ(at_end.size(), 0u);
  // Kernels over empty arrays do nothing.
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> v) { v(it.get_id(0), it.get_id(1)) = 1; },
      empty.shape(), empty);
}

NDL_TEST_P(array_test, bad_slices_and_indices_are_invalid_arguments) {
  auto q = default_queue();
  auto a = ndl::array<int, 2>::zeros({4, 5}, q);
  NDL_EXPECT_ERROR(a(ndl::slice(0, 5), ndl::all), ndl::errc::invalid_argument, "dimension 0", "4");
  NDL_EXPECT_ERROR(a(ndl::all, ndl::slice(-1, 3)), ndl::errc::invalid_argument, "dimension 1");
  NDL_EXPECT_ERROR(a(ndl::all, ndl::slice(0, 5, 0)), ndl::errc::invalid_argument, "step");
  NDL_EXPECT_ERROR(a(ndl::slice(2, 2, 0), ndl::all), ndl::errc::invalid_argument, "step");
  NDL_EXPECT_ERROR(a(ndl::slice(4, -1, -1), ndl::all), ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(a(4, ndl::all), ndl::errc::invalid_argument, "index 4", "dimension 0");
  NDL_EXPECT_ERROR(a(ndl::all, -1), ndl::errc::invalid_argument, "-1", "dimension 1");
  NDL_EXPECT_ERROR(a(ndl::all, 5), ndl::errc::invalid_argument, "5");
}

// --- kernels and strided views ---------------------------------------------------------------

// numba-dpex#572: writing out[::2] must touch the even elements only.
NDL_TEST_P(array_test, kernel_writing_every_other_element_leaves_the_rest_alone) {
  auto q = default_queue();
  constexpr ndl::size_t n = 257;
  auto base = ndl::array<std::int64_t>::full({n}, -1, q);
  for (std::int64_t step = 1; step <= 7; ++step) {
    base.copy_from_host(std::vector<std::int64_t>(n, -1));
    auto v = base(ndl::slice(0, static_cast<std::ptrdiff_t>(n), step));
    ndl::call_kernel(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<std::int64_t, 1> o) {
          o[it.get_id(0)] = static_cast<std::int64_t>(it.get_id(0));
        },
        v.shape(), v);
    const auto host = base.to_host();
    for (ndl::size_t i = 0; i < n; ++i) {
      const auto s = static_cast<ndl::size_t>(step);
      const std::int64_t want = i % s == 0 ? static_cast<std::int64_t>(i / s) : -1;
      ASSERT_EQ(host[i], want) << "step " << step << ", element " << i;
    }
  }
}

// test_strided_dpnp_array_in_kernel.py, 2-D: a 13x31 array in C and F order, sliced with
// steps in both dimensions; the kernel sets the selected elements to -3.
NDL_TEST_P(array_test, kernel_writes_through_2d_strided_views) {
  auto q = default_queue();
  constexpr ndl::size_t rows = 13, cols = 31;
  const auto set = [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<int, 2> o) {
    o(it.get_id(0), it.get_id(1)) = -3;
  };
  for (auto order : {ndl::layout::c, ndl::layout::f})
    for (std::ptrdiff_t s0 : {1, 2, 5})
      for (std::ptrdiff_t s1 : {1, 3, 8}) {
        auto base = ndl::array<int, 2>::from_host(iota(rows * cols), {rows, cols}, q, order);
        auto v = base(ndl::slice(1, 13, s0), ndl::slice(2, 31, s1));
        ndl::call_kernel(set, v.shape(), v);
        const auto host = base.to_host();
        for (ndl::size_t i = 0; i < rows; ++i)
          for (ndl::size_t j = 0; j < cols; ++j) {
            const bool selected = i >= 1 && (i - 1) % static_cast<ndl::size_t>(s0) == 0 && j >= 2 &&
                                  (j - 2) % static_cast<ndl::size_t>(s1) == 0;
            const int want = selected ? -3 : static_cast<int>(i * cols + j);
            ASSERT_EQ(host[i * cols + j], want)
                << (order == ndl::layout::c ? "C" : "F") << " steps " << s0 << "," << s1 << " at ("
                << i << ", " << j << ")";
          }
      }
}

NDL_TEST_P(array_test, kernel_reads_3d_reversed_and_strided_views) {
  auto q = default_queue();
  constexpr ndl::size_t d0 = 5, d1 = 6, d2 = 7;
  auto base = ndl::array<int, 3>::from_host(iota(d0 * d1 * d2), {d0, d1, d2}, q, ndl::layout::f);
  auto in = base(ndl::slice(4, -1, -2), ndl::slice(0, 6, 5), ndl::slice(6, 0, -3));
  ASSERT_TRUE(in.shape() == (ndl::range{3, 2, 2}));
  auto out = ndl::array<int, 3>::zeros(in.shape(), q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3> it, ndl::view<const int, 3> src, ndl::view<int, 3> dst) {
        const auto i = it.get_id(0), j = it.get_id(1), k = it.get_id(2);
        dst(i, j, k) = src(i, j, k);
      },
      in.shape(), in, out);
  std::vector<int> want;
  for (ndl::size_t i : {4, 2, 0})
    for (ndl::size_t j : {0, 5})
      for (ndl::size_t k : {6, 3})
        want.push_back(static_cast<int>((i * d1 + j) * d2 + k));
  EXPECT_EQ(out.to_host(), want);
  EXPECT_EQ(in.to_host(), want);
}

// The view a kernel receives has the array's shape and strides.
NDL_TEST_P(array_test, kernel_view_has_the_arrays_shape_and_strides) {
  auto q = default_queue();
  auto base = ndl::array<float, 2>::zeros({6, 8}, q, ndl::layout::f);
  auto s = base(ndl::slice(5, -1, -2), ndl::slice(1, 8, 3));
  auto info = ndl::array<std::int64_t>::zeros({5}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<float, 2> v, ndl::view<std::int64_t, 1> o) {
        o[0] = static_cast<std::int64_t>(v.extent(0));
        o[1] = static_cast<std::int64_t>(v.extent(1));
        o[2] = v.stride(0);
        o[3] = v.stride(1);
        o[4] = static_cast<std::int64_t>(v.size());
      },
      ndl::range{1}, s, info);
  EXPECT_EQ(info.to_host(), (std::vector<std::int64_t>{3, 3, -2, 18, 9}));
  EXPECT_EQ(s.get_view().data(), s.data());
  EXPECT_TRUE(s.get_view().shape() == (ndl::range{3, 3}));
}

NDL_TEST_P(array_test, copy_from_host_into_a_strided_view_writes_only_the_view) {
  auto q = default_queue();
  auto base = ndl::array<int, 2>::zeros({4, 6}, q);
  auto v = base(ndl::slice(1, 4, 2), ndl::slice(0, 6, 2));  // rows 1,3; cols 0,2,4
  v.copy_from_host(std::vector<int>{1, 2, 3, 4, 5, 6});
  std::vector<int> want(24, 0);
  want[6] = 1;
  want[8] = 2;
  want[10] = 3;
  want[18] = 4;
  want[20] = 5;
  want[22] = 6;
  EXPECT_EQ(base.to_host(), want);
}

// Asynchronous host transfers keep the array's memory until they complete, even when the
// caller drops the array at once.
NDL_TEST_P(array_test, async_transfers_keep_a_dropped_array_alive) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  constexpr ndl::size_t n = 10000;
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  std::vector<int> out(n, 0);
  const std::vector<int> in = iota(n, 5);
  std::weak_ptr<const void> weak;
  ndl::event to, from;
  {
    auto a = ndl::array<int, 2>::zeros({100, 100}, q);
    weak = a.owner();
    // Hold the queue so that the transfers cannot run yet.
    ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
    ASSERT_TRUE(g->wait_arrived(1));
    from = a.copy_from_host_async(in);
    to = a(ndl::all, ndl::slice(0, 100)).copy_to_host_async(out);
  }
  EXPECT_FALSE(weak.expired()) << "a pending transfer's array was freed";
  EXPECT_FALSE(to.is_complete());
  g->open();
  ndl::wait({from, to});
  EXPECT_EQ(out, in);
  EXPECT_TRUE(ndl_test::spin_until([&] { return weak.expired(); }))
      << "the transfers kept the array after completing";
}

// zeros() of a record larger than 64 bytes (kernels often write such records).
NDL_TEST_P(array_test, zeros_of_a_large_record) {
  struct big {
    double v[20];
  };
  auto q = default_queue();
  auto a = ndl::array<big>::zeros({3}, q);
  for (const big& b : a.to_host())
    for (double x : b.v)
      EXPECT_EQ(x, 0.0);
  auto f = ndl::array<big>::full({2}, big{{1, 2, 3}}, q);
  EXPECT_EQ(f.to_host()[1].v[2], 3.0);
}

// Launching with a default-constructed array (no memory, no queue) must fail with an
// ndl::error, not crash. Run in a death-test child so that a crash is reported, not fatal.
NDL_TEST_P(array_test, default_constructed_array_argument_is_an_error_not_a_crash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto q = default_queue();
  EXPECT_EXIT(
      {
        try {
          ndl::array<int> nothing;
          ndl::call_kernel([] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1>) {}, ndl::range{1},
                           nothing);
          std::_Exit(2);  // accepted as a no-op: fine too, as long as nothing broke
        } catch (const ndl::error&) {
          std::_Exit(0);
        }
        std::_Exit(1);
      },
      [](int status) {
        return WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 2);
      },
      "");
  (void)q;
}

}  // namespace
