// Runs a test suite once per device: every test is written once and parameterised over
// ndl::device::all(), so it runs on the CPU today and on CUDA devices when they exist.
//
//   class launch_test : public ndl_test::device_test {};
//   TEST_P(launch_test, adds) { auto q = default_queue(); ... }
//   NDL_INSTANTIATE_DEVICE_SUITE(launch_test);
//
// Kernels that every device can run are marked NDL_KERNEL_FN (`[] NDL_KERNEL_FN(ndl::item<1>
// it, ...) {...}`), so that the same source compiles for CUDA; kernels that use host-only C++
// (exceptions, std::atomic objects, sleeping, printing) are not, and their tests skip on
// devices other than the CPU.
//
// Test names end in the device's filter string with ':' replaced: "launch_test.adds/cpu_0".
// Where a device lacks something a test needs, the test skips with a reason:
//
//   NDL_SKIP_UNLESS(dev().is_cpu(), "needs host memory in kernels");
//   NDL_SKIP_UNLESS_HOST_KERNELS();   // kernels using std::atomic, exceptions, host pointers
#pragma once

#include <gtest/gtest.h>

#include <ndl/ndl.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace ndl {
/// Prints a device in test failure messages ("cpu:0 (AMD EPYC ...)").
inline void PrintTo(const device& d, std::ostream* os) {
  *os << d.filter_string() << " (" << d.name() << ")";
}
}  // namespace ndl

namespace ndl_test {

/// The devices every device suite runs on.
inline std::vector<ndl::device> devices() {
  return ndl::device::all();
}

/// A readable test-name suffix: the device's filter string with every character that GTest
/// does not accept in names replaced by '_' ("cpu:0" -> "cpu_0").
inline std::string device_test_name(const ::testing::TestParamInfo<ndl::device>& info) {
  std::string name = info.param.filter_string();
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return name;
}

/// Base of every device-parameterised suite.
class device_test : public ::testing::TestWithParam<ndl::device> {
 protected:
  /// The device this instance of the test runs on.
  const ndl::device& dev() const { return GetParam(); }
  /// The canonical default queue of that device (in-order).
  ndl::queue default_queue() const { return ndl::queue::default_queue(dev()); }
  /// A new queue on that device.
  ndl::queue make_queue(bool in_order = true, bool profiling = false) const {
    return ndl::queue(dev(), ndl::queue_options{in_order, profiling});
  }
};

}  // namespace ndl_test

/// Instantiates the TEST_P tests of `suite` (derived from ndl_test::device_test) once per
/// device.
#define NDL_INSTANTIATE_DEVICE_SUITE(suite)                                        \
  INSTANTIATE_TEST_SUITE_P(dev, suite, ::testing::ValuesIn(::ndl_test::devices()), \
                           ::ndl_test::device_test_name)

/// Skips the current test, with `reason` and the device's name, unless `condition` holds.
/// Defines a test run once on every device: like TEST_P(suite, name) plus an instantiation
/// over ndl::device::all(), named dev/suite_name.run/<device>. The body is a public member
/// function of a class derived from `suite`, because nvcc accepts extended lambdas
/// (`[] NDL_KERNEL_FN (...)`) only there, not in GoogleTest's private TestBody().
#define NDL_TEST_P(suite, name)                 \
  class suite##_##name : public suite {         \
   public:                                      \
    void body();                                \
  };                                            \
  TEST_P(suite##_##name, run) {                 \
    body();                                     \
  }                                             \
  NDL_INSTANTIATE_DEVICE_SUITE(suite##_##name); \
  void suite##_##name::body()

/// TEST(suite, name) whose body is a public static function (see NDL_TEST_P).
#define NDL_TEST(suite, name)      \
  struct suite##_##name##_body {   \
    static void body();            \
  };                               \
  TEST(suite, name) {              \
    suite##_##name##_body::body(); \
  }                                \
  void suite##_##name##_body::body()

#define NDL_SKIP_UNLESS(condition, reason)                                                     \
  do {                                                                                         \
    if (!(condition))                                                                          \
      GTEST_SKIP() << (reason) << " [device " << dev().filter_string() << ": " << dev().name() \
                   << "]";                                                                     \
  } while (0)

/// Skips unless the device runs kernels that use host-only C++: std::atomic objects in host
/// memory, exceptions thrown from the kernel, blocking on other launches. Only the CPU device
/// does; GPU kernels cannot.
#define NDL_SKIP_UNLESS_HOST_KERNELS()                                                  \
  NDL_SKIP_UNLESS(dev().is_cpu(),                                                       \
                  "this test's kernel uses host-only C++ (std::atomic in host memory, " \
                  "exceptions or blocking waits), which only the CPU device can run")
