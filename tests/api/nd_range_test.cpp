// ndl::nd_range (include/ndl/nd_range.hpp): construction, CTAD, validation, and the checks a
// launch makes against the device's limits.
#include <gtest/gtest.h>

#include <ndl/ndl.hpp>
#include <string>
#include <type_traits>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

// --- compile-time contract ------------------------------------------------------------------

// CTAD: braced extents and ranges both deduce the dimension.
static_assert(std::is_same_v<decltype(ndl::nd_range{{100}, {20}}), ndl::nd_range<1>>);
static_assert(std::is_same_v<decltype(ndl::nd_range{{100, 8}, {20, 4}}), ndl::nd_range<2>>);
static_assert(std::is_same_v<decltype(ndl::nd_range{{1, 1, 100}, {1, 1, 20}}), ndl::nd_range<3>>);
static_assert(std::is_same_v<decltype(ndl::nd_range{ndl::range{64, 64}, ndl::range{8, 8}}),
                             ndl::nd_range<2>>);
static_assert(ndl::nd_range<3>::dimensions == 3);
// Global and local ranges must have the same dimension.
static_assert(!std::is_constructible_v<ndl::nd_range<2>, ndl::range<2>, ndl::range<1>>);
static_assert(std::is_trivially_copyable_v<ndl::nd_range<3>>);

// --- host-side behaviour --------------------------------------------------------------------

NDL_TEST(nd_range_test, accessors) {
  const ndl::nd_range nd{{100, 12}, {20, 3}};
  EXPECT_TRUE(nd.get_global_range() == (ndl::range{100, 12}));
  EXPECT_TRUE(nd.get_local_range() == (ndl::range{20, 3}));
  EXPECT_TRUE(nd.get_group_range() == (ndl::range{5, 4}));
  EXPECT_TRUE(nd == (ndl::nd_range{{100, 12}, {20, 3}}));
  EXPECT_FALSE(nd == (ndl::nd_range{{100, 12}, {10, 3}}));
  EXPECT_EQ(ndl::to_string(nd), "{100, 12} / {20, 3}");
}

NDL_TEST(nd_range_test, range_and_array_forms_agree) {
  const ndl::nd_range a{ndl::range{64, 32, 2}, ndl::range{8, 4, 2}};
  const ndl::nd_range b{{64, 32, 2}, {8, 4, 2}};
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a.get_group_range() == (ndl::range{8, 8, 1}));
}

NDL_TEST(nd_range_test, zero_global_extent_is_allowed) {
  const ndl::nd_range nd{{0, 8}, {4, 8}};
  EXPECT_TRUE(nd.get_global_range().empty());
  EXPECT_EQ(nd.get_group_range()[0], 0u);
}

NDL_TEST(nd_range_test, local_range_must_divide_the_global_range) {
  // The message prints both ranges.
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{100}, {30}};
      },
      ndl::errc::invalid_range, {"{100}", "{30}"}));
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{64, 100}, {8, 30}};
      },
      ndl::errc::invalid_range, {"{64, 100}", "{8, 30}"}));
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{4, 4, 10}, {2, 2, 4}};
      },
      ndl::errc::invalid_range, {"{4, 4, 10}", "{2, 2, 4}", "dimension 2"}));
}

NDL_TEST(nd_range_test, local_range_must_not_be_zero) {
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{100}, {0}};
      },
      ndl::errc::invalid_range, {"{100}", "{0}", "zero"}));
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{8, 8}, {4, 0}};
      },
      ndl::errc::invalid_range, {"{8, 8}", "{4, 0}"}));
  // Also with a zero global extent (nothing to divide, but the local shape is still invalid).
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{{0}, {0}};
      },
      ndl::errc::invalid_range, {"zero"}));
}

NDL_TEST(nd_range_test, negative_extents_are_rejected) {
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{ndl::range{-100}, ndl::range{20}};
      },
      ndl::errc::invalid_range, {"-100"}));
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        ndl::nd_range nd{ndl::range{100}, ndl::range{-20}};
      },
      ndl::errc::invalid_range, {"-20"}));
}

// --- checks made at launch ------------------------------------------------------------------

class nd_range_launch_test : public ndl_test::device_test {};

// A work-group larger than the device allows is rejected before anything runs, with both
// ranges, the limit and the device in the message.
NDL_TEST_P(nd_range_launch_test, work_group_larger_than_the_device_maximum_is_rejected) {
  const ndl::size_t max = dev().max_work_group_size();
  auto q = default_queue();
  auto ran = ndl::array<int>::zeros({1}, q);
  auto k1 = [] NDL_KERNEL_FN(ndl::nd_item<1>, ndl::view<int, 1> r) { r[0] = 1; };
  const std::string too_big = std::to_string(2 * max);
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel(k1, ndl::nd_range{{2 * max}, {2 * max}}, ran);
      },
      ndl::errc::invalid_range, {"{" + too_big + "}", std::to_string(max), dev().filter_string()}));
  // The same with the asynchronous launcher: thrown at the call, nothing submitted.
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel_async(k1, ndl::nd_range{{4 * max}, {2 * max}}, {}, ran);
      },
      ndl::errc::invalid_range, {"{" + std::to_string(4 * max) + "}", "{" + too_big + "}"}));
  // In several dimensions the product counts: max x 2 work-items.
  auto k2 = [] NDL_KERNEL_FN(ndl::nd_item<2>, ndl::view<int, 1> r) { r[0] = 2; };
  const std::string g = "{" + std::to_string(max) + ", 4}";
  const std::string l = "{" + std::to_string(max) + ", 2}";
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel(k2, ndl::nd_range{{max, 4}, {max, 2}}, ran);
      },
      ndl::errc::invalid_range, {g, l, too_big}));
  q.wait();
  EXPECT_EQ(ran.to_host()[0], 0) << "a rejected launch ran";
}

// The largest work-group the device declares is accepted, and every work-item runs.
NDL_TEST_P(nd_range_launch_test, work_group_of_the_device_maximum_runs) {
  const ndl::size_t max = dev().max_work_group_size();
  auto q = default_queue();
  auto out = ndl::array<int>::zeros({2 * max}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = static_cast<int>(it.get_local_id(0)) + 1;
      },
      ndl::nd_range{{2 * max}, {max}}, out);
  const auto host = out.to_host();
  for (ndl::size_t i = 0; i < 2 * max; ++i)
    ASSERT_EQ(host[i], static_cast<int>(i % max) + 1) << "at " << i;
}

}  // namespace
