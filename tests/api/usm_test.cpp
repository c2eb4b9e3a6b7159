// Unified shared memory (include/ndl/memory/usm.hpp): allocation kinds, frees, pointer
// queries, allocation failures.
#include <gtest/gtest.h>

#include <cstdint>
#include <ndl/ndl.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/devices.hpp"
#include "support/sanitizers.hpp"
#include "support/test_util.hpp"

// The huge-allocation test asks for 2^60 bytes and expects a clean out_of_memory error (the
// bad-input table of this executable too).
NDL_TEST_ALLOCATOR_MAY_RETURN_NULL()

namespace {

class usm_test : public ndl_test::device_test {};

NDL_TEST(usm_kind_test, names) {
  EXPECT_EQ(ndl::to_string(ndl::usm_kind::device), "device");
  EXPECT_EQ(ndl::to_string(ndl::usm_kind::shared), "shared");
  EXPECT_EQ(ndl::to_string(ndl::usm_kind::host), "host");
}

NDL_TEST_P(usm_test, every_kind_allocates_aligned_memory_the_device_can_use) {
  auto q = default_queue();
  constexpr ndl::size_t n = 1000;
  int* d = ndl::malloc_device<int>(n, q);
  int* s = ndl::malloc_shared<int>(n, q);
  int* h = ndl::malloc_host<int>(n, q);
  void* raw = ndl::malloc(123, q, ndl::usm_kind::device);
  for (void* p : {static_cast<void*>(d), static_cast<void*>(s), static_cast<void*>(h), raw}) {
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u) << "USM is 64-byte aligned";
  }
  // Shared and host memory are readable on the host; device memory through copies.
  for (ndl::size_t i = 0; i < n; ++i)
    h[i] = static_cast<int>(i);
  ndl::call_kernel(
      q,
      [] NDL_KERNEL_FN(ndl::item<1> it, const int* in, int* mid, int* out) {
        const ndl::size_t i = it.get_id(0);
        mid[i] = in[i] * 2;
        out[i] = in[i] + 1;
      },
      ndl::range{n}, static_cast<const int*>(h), d, s);
  std::vector<int> back(n);
  q.memcpy(back.data(), d, n * sizeof(int));
  for (ndl::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(back[i], static_cast<int>(2 * i));
    ASSERT_EQ(s[i], static_cast<int>(i + 1));
  }
  ndl::free(d, q);
  ndl::free(s, q);
  ndl::free(h);  // also without the queue
  ndl::free(raw, q);
}

NDL_TEST_P(usm_test, pointer_info_describes_the_allocation) {
  auto q = default_queue();
  char* d = ndl::malloc_device<char>(100, q);
  double* s = ndl::malloc_shared<double>(10, q);
  float* h = ndl::malloc_host<float>(3, q);

  const ndl::pointer_info di = ndl::get_pointer_info(d);
  EXPECT_TRUE(di.is_usm);
  EXPECT_EQ(di.kind, ndl::usm_kind::device);
  EXPECT_EQ(di.bytes, 100u);
  EXPECT_EQ(di.base, d);
  // An interior pointer finds its allocation; one past the end does not.
  const ndl::pointer_info inner = ndl::get_pointer_info(d + 99);
  EXPECT_TRUE(inner.is_usm);
  EXPECT_EQ(inner.base, d);
  EXPECT_FALSE(ndl::get_pointer_info(d + 100).is_usm);

  const ndl::pointer_info si = ndl::get_pointer_info(s + 5);
  EXPECT_TRUE(si.is_usm);
  EXPECT_EQ(si.kind, ndl::usm_kind::shared);
  EXPECT_EQ(si.bytes, 80u);
  EXPECT_EQ(si.base, s);
  const ndl::pointer_info hi = ndl::get_pointer_info(h);
  EXPECT_EQ(hi.kind, ndl::usm_kind::host);
  EXPECT_EQ(hi.bytes, 12u);

  int on_stack = 0;
  std::vector<int> on_heap(10);
  EXPECT_FALSE(ndl::get_pointer_info(&on_stack).is_usm);
  EXPECT_FALSE(ndl::get_pointer_info(on_heap.data()).is_usm);
  EXPECT_FALSE(ndl::get_pointer_info(nullptr).is_usm);

  ndl::free(d, q);
  ndl::free(s, q);
  ndl::free(h, q);
  EXPECT_FALSE(ndl::get_pointer_info(d).is_usm) << "a freed allocation is forgotten";
}

NDL_TEST_P(usm_test, zero_byte_allocations_are_unique_and_must_be_freed) {
  auto q = default_queue();
  void* a = ndl::malloc(0, q, ndl::usm_kind::device);
  void* b = ndl::malloc(0, q, ndl::usm_kind::device);
  int* c = ndl::malloc_device<int>(0, q);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(a, b);
  EXPECT_NE(a, static_cast<void*>(c));
  EXPECT_TRUE(ndl::get_pointer_info(a).is_usm);
  EXPECT_EQ(ndl::get_pointer_info(a).bytes, 0u);
  ndl::free(a, q);
  ndl::free(b);
  ndl::free(c, q);
}

NDL_TEST_P(usm_test, freeing_what_is_not_a_live_allocation_is_an_invalid_argument) {
  auto q = default_queue();
  int on_stack = 0;
  NDL_EXPECT_ERROR(ndl::free(&on_stack, q), ndl::errc::invalid_argument, "not the start");
  NDL_EXPECT_ERROR(ndl::free(&on_stack), ndl::errc::invalid_argument, "not the start");
  int* p = ndl::malloc_device<int>(8, q);
  NDL_EXPECT_ERROR(ndl::free(p + 1, q), ndl::errc::invalid_argument, "not the start");
  EXPECT_TRUE(ndl::get_pointer_info(p).is_usm) << "a refused free left the allocation alone";
  ndl::free(p, q);
  NDL_EXPECT_ERROR(ndl::free(p, q), ndl::errc::invalid_argument, "double free");
  NDL_EXPECT_ERROR(ndl::free(p), ndl::errc::invalid_argument, "double free");
  EXPECT_NO_THROW(ndl::free(nullptr, q));
  EXPECT_NO_THROW(ndl::free(nullptr));
}

// Freeing through a queue of another device is refused (needs two devices).
NDL_TEST_P(usm_test, freeing_through_another_devices_queue_is_an_invalid_argument) {
  const auto devs = ndl::device::all();
  ndl::device other = dev();
  for (const auto& d : devs)
    if (!(d == dev())) other = d;
  NDL_SKIP_UNLESS(!(other == dev()), "needs a second device");
  int* p = ndl::malloc_device<int>(4, default_queue());
  NDL_EXPECT_ERROR(ndl::free(p, ndl::queue::default_queue(other)), ndl::errc::invalid_argument,
                   dev().filter_string(), other.filter_string());
  ndl::free(p, default_queue());
}

NDL_TEST_P(usm_test, huge_allocations_fail_cleanly_and_the_device_keeps_working) {
  auto q = default_queue();
  const ndl::size_t huge = ndl::size_t{1} << 60;
  for (auto kind : {ndl::usm_kind::device, ndl::usm_kind::shared, ndl::usm_kind::host})
    NDL_EXPECT_ERROR(ndl::malloc(huge, q, kind), ndl::errc::out_of_memory, std::to_string(huge),
                     dev().filter_string());
  NDL_EXPECT_ERROR(ndl::malloc_device<double>(huge, q), ndl::errc::out_of_memory);
  // The byte count of the request overflows 64 bits.
  NDL_EXPECT_ERROR(ndl::malloc_device<double>(ndl::size_t{1} << 62, q), ndl::errc::out_of_memory,
                   "overflow");
  NDL_EXPECT_ERROR(ndl::malloc_shared<std::uint64_t>(~ndl::size_t{0}, q), ndl::errc::out_of_memory);
  NDL_EXPECT_ERROR((ndl::array<double>(ndl::range{ndl::size_t{1} << 62}, q)),
                   ndl::errc::out_of_memory);
  // Still usable.
  auto a = ndl::array<int>::full({100}, 6, q);
  ndl::call_kernel([] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] *= 7; },
                   ndl::range{100}, a);
  EXPECT_EQ(a.to_host(), std::vector<int>(100, 42));
}

NDL_TEST_P(usm_test, many_allocations_are_told_apart) {
  auto q = default_queue();
  std::vector<int*> ptrs;
  for (int i = 0; i < 200; ++i)
    ptrs.push_back(ndl::malloc_device<int>(static_cast<size_t>(i % 7), q));
  std::set<int*> distinct(ptrs.begin(), ptrs.end());
  EXPECT_EQ(distinct.size(), ptrs.size());
  for (int* p : ptrs)
    EXPECT_TRUE(ndl::get_pointer_info(p).is_usm);
  for (int* p : ptrs)
    ndl::free(p, q);
}

}  // namespace
