// ndl::range (include/ndl/range.hpp): construction, CTAD, extents, 64-bit sizes, negative
// extents, and launches over empty and very large ranges.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <ndl/ndl.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

// --- compile-time contract ------------------------------------------------------------------

static_assert(std::is_same_v<decltype(ndl::range{10}), ndl::range<1>>);
static_assert(std::is_same_v<decltype(ndl::range{10, 20}), ndl::range<2>>);
static_assert(std::is_same_v<decltype(ndl::range{10, 20, 30}), ndl::range<3>>);
static_assert(std::is_same_v<decltype(ndl::range{std::size_t{1} << 40, 3u}), ndl::range<2>>);
static_assert(ndl::range<1>::dimensions == 1 && ndl::range<3>::dimensions == 3);
// Extents are integers: no floating point, no bool, and exactly Dim of them.
static_assert(!std::is_constructible_v<ndl::range<1>, double>);
static_assert(!std::is_constructible_v<ndl::range<1>, float>);
static_assert(!std::is_constructible_v<ndl::range<1>, bool>);
static_assert(!std::is_constructible_v<ndl::range<2>, int>);
static_assert(!std::is_constructible_v<ndl::range<1>, int, int>);
static_assert(std::is_constructible_v<ndl::range<2>, short, unsigned long long>);
// Usable in constant expressions (kernel-side code is constexpr-friendly).
constexpr ndl::range<3> constant_range{2, 3, 4};
static_assert(constant_range.size() == 24);
static_assert(constant_range[2] == 4 && constant_range.get(1) == 3);
static_assert(!constant_range.empty());
static_assert(ndl::range<2>{}.empty());
static_assert(sizeof(ndl::size_t) == 8, "extents are 64-bit");
static_assert(std::is_trivially_copyable_v<ndl::range<3>>);

// --- host-side behaviour --------------------------------------------------------------------

NDL_TEST(range_test, extents_size_and_equality) {
  ndl::range r{10, 20};
  EXPECT_EQ(r[0], 10u);
  EXPECT_EQ(r[1], 20u);
  EXPECT_EQ(r.get(1), 20u);
  EXPECT_EQ(r.size(), 200u);
  EXPECT_FALSE(r.empty());
  EXPECT_TRUE(r == (ndl::range{10, 20}));
  EXPECT_FALSE(r == (ndl::range{20, 10}));
  r[1] = 5;
  EXPECT_EQ(r.size(), 50u);
  EXPECT_EQ(ndl::to_string(r), "{10, 5}");
  EXPECT_EQ(ndl::to_string(ndl::range{7}), "{7}");
}

NDL_TEST(range_test, default_range_is_empty) {
  ndl::range<3> r;
  EXPECT_EQ(r[0], 0u);
  EXPECT_EQ(r[1], 0u);
  EXPECT_EQ(r[2], 0u);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.empty());
}

NDL_TEST(range_test, zero_in_any_dimension_is_empty) {
  EXPECT_TRUE((ndl::range{0, 5, 3}).empty());
  EXPECT_TRUE((ndl::range{5, 0, 3}).empty());
  EXPECT_TRUE((ndl::range{5, 3, 0}).empty());
  EXPECT_FALSE((ndl::range{1, 1, 1}).empty());
}

NDL_TEST(range_test, extents_and_sizes_are_64_bit) {
  const ndl::range r{std::uint64_t{1} << 20, std::uint64_t{1} << 13};
  EXPECT_EQ(r.size(), std::uint64_t{1} << 33);
  const ndl::range big{std::uint64_t{3} << 32, 2u, 5u};
  EXPECT_EQ(big[0], std::uint64_t{3} << 32);
  EXPECT_EQ(big.size(), std::uint64_t{30} << 32);
  const ndl::range from_ll{std::numeric_limits<long long>::max()};
  EXPECT_EQ(from_ll[0], static_cast<ndl::size_t>(std::numeric_limits<long long>::max()));
}

NDL_TEST(range_test, negative_extent_from_a_signed_value_is_rejected) {
  NDL_EXPECT_ERROR(ndl::range{-5}, ndl::errc::invalid_range, "dimension 0", "-5");
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        [[maybe_unused]] ndl::range r{3, -1};
      },
      ndl::errc::invalid_range, {"dimension 1", "-1"}));
  EXPECT_TRUE(ndl_test::throws_error(
      [] {
        [[maybe_unused]] ndl::range r{3, 4, -7};
      },
      ndl::errc::invalid_range, {"dimension 2", "-7"}));
  const long long huge_negative = std::numeric_limits<long long>::min();
  NDL_EXPECT_ERROR(ndl::range{huge_negative}, ndl::errc::invalid_range, "negative");
  const short s = -2;
  NDL_EXPECT_ERROR(ndl::range{s}, ndl::errc::invalid_range, "-2");
}

// --- launches over empty and large ranges ----------------------------------------------------

class range_launch_test : public ndl_test::device_test {};

// A zero extent in any dimension makes the launch a no-op: the kernel never runs.
NDL_TEST_P(range_launch_test, zero_extent_launch_does_not_run_the_kernel) {
  auto q = default_queue();
  auto ran = ndl::array<int>::zeros({1}, q);
  auto k1 = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> r) { r[0] = 1; };
  auto k2 = [] NDL_KERNEL_FN(ndl::item<2>, ndl::view<int, 1> r) { r[0] = 2; };
  auto k3 = [] NDL_KERNEL_FN(ndl::item<3>, ndl::view<int, 1> r) { r[0] = 3; };
  ndl::call_kernel(k1, ndl::range{0}, ran);
  ndl::call_kernel(k2, ndl::range{0, 7}, ran);
  ndl::call_kernel(k2, ndl::range{7, 0}, ran);
  ndl::call_kernel(k3, ndl::range{0, 2, 2}, ran);
  ndl::call_kernel(k3, ndl::range{2, 0, 2}, ran);
  ndl::call_kernel(k3, ndl::range{2, 2, 0}, ran);
  // Extents far beyond 2^32 in one dimension with a zero elsewhere: still a no-op.
  ndl::call_kernel(k2, ndl::range{std::uint64_t{1} << 40, 0u}, ran);
  auto [host, devev] = ndl::call_kernel_async(k1, ndl::range{0}, {}, ran);
  ndl::wait({host, devev});
  EXPECT_TRUE(host.is_complete());
  EXPECT_TRUE(devev.is_complete());
  EXPECT_EQ(ran.to_host()[0], 0);
}

NDL_TEST_P(range_launch_test, zero_extent_nd_range_launch_does_not_run_the_kernel) {
  auto q = default_queue();
  auto ran = ndl::array<int>::zeros({1}, q);
  auto k1 = [] NDL_KERNEL_FN(ndl::nd_item<1>, ndl::view<int, 1> r) { r[0] = 1; };
  auto k2 = [] NDL_KERNEL_FN(ndl::nd_item<2>, ndl::view<int, 1> r) { r[0] = 2; };
  ndl::call_kernel(k1, ndl::nd_range{{0}, {4}}, ran);
  ndl::call_kernel(k2, ndl::nd_range{{8, 0}, {2, 1}}, ran);
  ndl::call_kernel(k2, ndl::nd_range{{0, 8}, {1, 8}}, ran);
  EXPECT_EQ(ran.to_host()[0], 0);
}

// A no-op launch is still a command: on an in-order queue it completes after the commands
// before it, and so does everything behind it.
NDL_TEST_P(range_launch_test, zero_extent_launch_keeps_its_place_in_an_in_order_queue) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto first =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  ASSERT_TRUE(g->wait_arrived(1));
  auto empty = ndl::call_kernel_async(q, [] NDL_KERNEL_FN(ndl::item<2>) {}, ndl::range{0, 4}, {});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(empty.device_event.is_complete())
      << "a no-op launch completed before the command submitted before it";
  g->open();
  ndl::wait({empty.host_event, empty.device_event});
  EXPECT_TRUE(first.device_event.is_complete());
  EXPECT_EQ(g->timeouts.load(), 0);
}

// More than 2^32 work-items: launching 2^33 trivial work-items would take minutes in a
// debug or sanitizer build, so every work-item throws at once. Each chunk of the launch
// stops at its first work-item, and the reported failure carries that work-item's ids and
// ranges as the kernel saw them: they must be the full 64-bit values.
struct report_ids {
  void operator()(ndl::item<2> it) const {
    throw std::runtime_error(
        "ids " + std::to_string(it.get_id(0)) + " " + std::to_string(it.get_id(1)) + " linear " +
        std::to_string(it.get_linear_id()) + " of " + std::to_string(it.get_linear_range()) +
        " ranges " + std::to_string(it.get_range(0)) + " " + std::to_string(it.get_range(1)));
  }
};

NDL_TEST_P(range_launch_test, launch_of_more_than_2_pow_32_work_items_sees_64_bit_ids) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::range big{std::uint64_t{1} << 20, std::uint64_t{1} << 13};  // 2^33 work-items
  const std::string msg = ndl_test::error_message(
      [&] { ndl::call_kernel(default_queue(), ndl::cpu_only(report_ids{}), big); });
  ASSERT_NE(msg.find("of 8589934592 ranges 1048576 8192"), std::string::npos) << msg;
  // The failing work-item's ids agree with its row-major linear id.
  unsigned long long i = 0, j = 0, lin = 0;
  const auto pos = msg.find("ids ");
  ASSERT_NE(pos, std::string::npos) << msg;
  ASSERT_EQ(std::sscanf(msg.c_str() + pos, "ids %llu %llu linear %llu", &i, &j, &lin), 3) << msg;
  EXPECT_EQ(lin, i * 8192 + j) << msg;
  EXPECT_LT(i, 1ull << 20);
  EXPECT_LT(j, 8192ull);
  // ... and the runtime names the same work-item.
  EXPECT_NE(msg.find("(" + std::to_string(i) + ", " + std::to_string(j) + ")"), std::string::npos)
      << msg;
}

// The largest ranges that fit in 64 bits are launched, not dropped: every work-item
// throws, so the launch must fail (quickly) with kernel_failure. A launch that reports
// nothing never ran its kernel.
struct always_throws {
  void operator()(ndl::item<1>) const { throw std::runtime_error("ran"); }
  void operator()(ndl::item<2>) const { throw std::runtime_error("ran"); }
};

NDL_TEST_P(range_launch_test, launch_of_nearly_2_pow_64_work_items_runs) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::size_t max = ~ndl::size_t{0};
  for (ndl::size_t n : {max, max - 1000, ndl::size_t{1} << 63}) {
    EXPECT_TRUE(ndl_test::throws_error(
        [&] { ndl::call_kernel(default_queue(), ndl::cpu_only(always_throws{}), ndl::range{n}); },
        ndl::errc::kernel_failure, {"ran"}))
        << "range{" << n << "}";
  }
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel(default_queue(), ndl::cpu_only(always_throws{}),
                         ndl::range{std::uint64_t{1} << 32, (std::uint64_t{1} << 32) - 1});
      },
      ndl::errc::kernel_failure, {"ran"}));
}

// A launch whose total number of work-items overflows 64 bits is rejected up front.
NDL_TEST_P(range_launch_test, launch_of_more_than_2_pow_64_work_items_is_rejected) {
  const ndl::range huge{std::uint64_t{1} << 32, std::uint64_t{1} << 32, 2u};
  EXPECT_TRUE(ndl_test::throws_error(
      [&] {
        ndl::call_kernel(
            default_queue(), [] NDL_KERNEL_FN(ndl::item<3>) {}, huge);
      },
      ndl::errc::invalid_range, {"4294967296"}));
}

}  // namespace
