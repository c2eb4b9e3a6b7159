// ndl::error and ndl::errc (include/ndl/error.hpp).
#include <gtest/gtest.h>

#include "support/devices.hpp"

#include <ndl/error.hpp>
#include <set>
#include <stdexcept>
#include <string>

namespace {

NDL_TEST(error_test, every_code_has_its_own_name) {
  const ndl::errc codes[] = {
      ndl::errc::invalid_range,   ndl::errc::queue_inference, ndl::errc::invalid_argument,
      ndl::errc::unsupported,     ndl::errc::out_of_memory,   ndl::errc::kernel_failure,
      ndl::errc::device_lost,     ndl::errc::backend_failure, ndl::errc::dependency_failed,
      ndl::errc::compile_failure,
  };
  const char* names[] = {"invalid_range",  "queue_inference", "invalid_argument",
                         "unsupported",    "out_of_memory",   "kernel_failure",
                         "device_lost",    "backend_failure", "dependency_failed",
                         "compile_failure"};
  std::set<std::string> seen;
  for (size_t i = 0; i < std::size(codes); ++i) {
    EXPECT_EQ(ndl::to_string(codes[i]), names[i]);
    seen.insert(std::string(ndl::to_string(codes[i])));
  }
  EXPECT_EQ(seen.size(), std::size(codes));
}

NDL_TEST(error_test, what_reads_code_then_message) {
  const ndl::error e(ndl::errc::invalid_range, "local range {30} does not divide {100}");
  EXPECT_EQ(e.code(), ndl::errc::invalid_range);
  EXPECT_EQ(e.message(), "local range {30} does not divide {100}");
  EXPECT_STREQ(e.what(), "ndl::error [invalid_range]: local range {30} does not divide {100}");
}

NDL_TEST(error_test, is_a_runtime_error) {
  try {
    ndl::detail::throw_error(ndl::errc::unsupported, "no CUDA entry point");
    FAIL() << "throw_error returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "ndl::error [unsupported]: no CUDA entry point");
    const auto* ne = dynamic_cast<const ndl::error*>(&e);
    ASSERT_NE(ne, nullptr);
    EXPECT_EQ(ne->code(), ndl::errc::unsupported);
  }
}

}  // namespace
