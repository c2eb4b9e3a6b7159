// ndl::device (include/ndl/device.hpp): enumeration, filter strings, device information and
// the NDL_DEVICE / NDL_CPU_THREADS environment variables (tested in child processes, since
// the runtime reads them once per process).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ndl/ndl.hpp>
#include <set>
#include <string>

#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

// --- child-process scenarios -----------------------------------------------------------------

// Prints "default <filter>" or "error <code>: <message>" for the default device.
NDL_TEST_PROBE(default_device) {
  try {
    const ndl::device d = ndl::device::default_device();
    const ndl::device d2;  // the default constructor agrees
    std::printf("default %s same %d\n", d.filter_string().c_str(), d == d2 ? 1 : 0);
  } catch (const ndl::error& e) {
    std::printf("error %s: %s\n", std::string(ndl::to_string(e.code())).c_str(),
                e.message().c_str());
    // A second attempt fails the same way (no half-initialised state).
    try {
      ndl::queue q;
      std::printf("second attempt succeeded\n");
    } catch (const ndl::error& e2) {
      std::printf("again %s\n", std::string(ndl::to_string(e2.code())).c_str());
    }
  }
  return 0;
}

// Prints the CPU device's compute units and runs a launch that needs two threads' worth of
// progress (a kernel that waits for another launch) to show a small pool cannot deadlock.
NDL_TEST_PROBE(cpu_threads) {
  try {
    const ndl::device cpu{"cpu"};
    std::printf("compute_units %u\n", cpu.compute_units());
    ndl::queue q{cpu};
    auto out = ndl::array<int>::zeros({64}, q);
    ndl::call_kernel(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o) { o[it.get_id(0)] = 7; },
        ndl::range{64}, out);
    int sum = 0;
    for (int v : out.to_host())
      sum += v;
    std::printf("sum %d\n", sum);
  } catch (const ndl::error& e) {
    std::printf("error %s: %s\n", std::string(ndl::to_string(e.code())).c_str(),
                e.message().c_str());
  }
  return 0;
}

// --- enumeration ------------------------------------------------------------------------------

NDL_TEST(device_test, all_lists_the_cpu_first_then_gpus) {
  const auto devs = ndl::device::all();
  ASSERT_FALSE(devs.empty());
  EXPECT_TRUE(devs.front().is_cpu());
  EXPECT_EQ(devs.front().filter_string(), "cpu:0");
  bool seen_gpu = false;
  for (const auto& d : devs) {
    if (d.is_gpu()) seen_gpu = true;
    if (seen_gpu) {
      EXPECT_TRUE(d.is_gpu()) << "a CPU after a GPU: " << d.filter_string();
    }
  }
  // Each device once, and enumeration is stable.
  std::set<std::string> names;
  for (const auto& d : devs)
    names.insert(d.filter_string());
  EXPECT_EQ(names.size(), devs.size());
  EXPECT_TRUE(ndl::device::all() == devs);
}

NDL_TEST(device_test, kind_and_backend_strings) {
  EXPECT_EQ(ndl::to_string(ndl::device_kind::cpu), "cpu");
  EXPECT_EQ(ndl::to_string(ndl::device_kind::gpu), "gpu");
  EXPECT_EQ(ndl::to_string(ndl::backend_kind::cpu), "cpu");
  EXPECT_EQ(ndl::to_string(ndl::backend_kind::cuda), "cuda");
}

// --- filter strings --------------------------------------------------------------------------

NDL_TEST(device_test, cpu_filters) {
  const ndl::device cpu = ndl::device::all().front();
  EXPECT_TRUE(ndl::device{"cpu"} == cpu);
  EXPECT_TRUE(ndl::device{"cpu:0"} == cpu);
  EXPECT_TRUE(ndl::device{"CPU"} == cpu);
  EXPECT_TRUE(ndl::device{" cpu "} == cpu);
  EXPECT_EQ(ndl::device::all("cpu").size(), 1u);
  EXPECT_TRUE(ndl::device::all("cpu:1").empty());
}

NDL_TEST(device_test, alternatives_prefer_the_first_that_matches) {
  const auto gpus = ndl::device::all("gpu");
  const ndl::device first = ndl::device{"gpu,cpu"};
  if (gpus.empty()) {
    EXPECT_TRUE(first.is_cpu());
  } else {
    EXPECT_TRUE(first == gpus.front());
  }
  EXPECT_TRUE(ndl::device{"cpu,gpu"}.is_cpu());
  // all() with alternatives lists every match once, in the order of the alternatives.
  const auto both = ndl::device::all("cpu,gpu,cpu");
  ASSERT_EQ(both.size(), 1 + gpus.size());
  EXPECT_TRUE(both.front().is_cpu());
}

NDL_TEST(device_test, cuda_filters_match_only_cuda_devices) {
  for (const auto& d : ndl::device::all("cuda"))
    EXPECT_EQ(d.backend(), ndl::backend_kind::cuda);
  for (const auto& d : ndl::device::all("gpu"))
    EXPECT_TRUE(d.is_gpu());
  EXPECT_EQ(ndl::device::all("cuda").size(), ndl::device::all("cuda:gpu").size());
}

NDL_TEST(device_test, every_device_round_trips_through_its_filter_string) {
  for (const auto& d : ndl::device::all()) {
    EXPECT_TRUE(ndl::device{d.filter_string()} == d) << d.filter_string();
    const auto matches = ndl::device::all(d.filter_string());
    ASSERT_EQ(matches.size(), 1u) << d.filter_string();
    EXPECT_TRUE(matches.front() == d);
  }
}

NDL_TEST(device_test, malformed_filters_are_invalid_arguments) {
  NDL_EXPECT_ERROR(ndl::device{"xyz:1"}, ndl::errc::invalid_argument, "xyz");
  NDL_EXPECT_ERROR(ndl::device::all("xyz"), ndl::errc::invalid_argument, "xyz");
  NDL_EXPECT_ERROR(ndl::device{""}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"cpu,"}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"cpu::0"}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"cpu:0:0"}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"cpu:gpu"}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"0x1"}, ndl::errc::invalid_argument);
  NDL_EXPECT_ERROR(ndl::device{"cpu:-1"}, ndl::errc::invalid_argument);
}

// A well-formed filter that matches nothing: the constructor names the filter and lists the
// devices there are.
NDL_TEST(device_test, filter_matching_nothing_lists_the_available_devices) {
  const ndl::device cpu = ndl::device::all().front();
  NDL_EXPECT_ERROR(ndl::device{"cuda:7"}, ndl::errc::invalid_argument, "cuda:7", "available",
                   cpu.filter_string(), cpu.name());
  NDL_EXPECT_ERROR(ndl::device{"cpu:3"}, ndl::errc::invalid_argument, "cpu:3", "available");
  EXPECT_TRUE(ndl::device::all("cuda:7").empty());
}

// --- the default device ----------------------------------------------------------------------

// Without NDL_DEVICE the default is the first GPU, else the CPU; with it, its first match.
NDL_TEST(device_test, default_device_follows_the_documented_rule) {
  const char* env = std::getenv("NDL_DEVICE");
  const ndl::device d = ndl::device::default_device();
  if (env && *env) {
    EXPECT_TRUE(d == ndl::device{env});
  } else {
    const auto gpus = ndl::device::all("gpu");
    EXPECT_TRUE(d == (gpus.empty() ? ndl::device{"cpu"} : gpus.front()));
  }
  EXPECT_TRUE(ndl::device{} == d);
  EXPECT_TRUE(ndl::queue{}.get_device() == d);
}

NDL_TEST(device_test, ndl_device_selects_the_default_device) {
  const auto r = ndl_test::run_probe("default_device", {{"NDL_DEVICE", "cpu"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("default cpu:0 same 1"), std::string::npos) << r.output;

  const auto alt = ndl_test::run_probe("default_device", {{"NDL_DEVICE", "cuda:7,cpu"}});
  ASSERT_EQ(alt.exit_code, 0) << alt.output;
  EXPECT_NE(alt.output.find("default cpu:0 same 1"), std::string::npos) << alt.output;
}

NDL_TEST(device_test, ndl_device_matching_nothing_makes_the_default_device_an_error) {
  const auto r = ndl_test::run_probe("default_device", {{"NDL_DEVICE", "cuda:7"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("error invalid_argument: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NDL_DEVICE"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cuda:7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu:0"), std::string::npos) << "lists the available devices\n"
                                                       << r.output;
  EXPECT_NE(r.output.find("again invalid_argument"), std::string::npos) << r.output;
}

NDL_TEST(device_test, malformed_ndl_device_makes_the_default_device_an_error) {
  const auto r = ndl_test::run_probe("default_device", {{"NDL_DEVICE", "bogus"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("error invalid_argument: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bogus"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("again invalid_argument"), std::string::npos) << r.output;
}

NDL_TEST(device_test, ndl_cpu_threads_sets_the_cpu_compute_units) {
  for (const char* n : {"1", "3"}) {
    const auto r = ndl_test::run_probe("cpu_threads", {{"NDL_CPU_THREADS", n}});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("compute_units ") + n + "\n"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("sum 448"), std::string::npos) << r.output;
  }
}

NDL_TEST(device_test, invalid_ndl_cpu_threads_is_an_error) {
  for (const char* n : {"0", "-2", "many", "5000"}) {
    const auto r = ndl_test::run_probe("cpu_threads", {{"NDL_CPU_THREADS", n}});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("error invalid_argument: "), std::string::npos) << n << r.output;
    EXPECT_NE(r.output.find("NDL_CPU_THREADS"), std::string::npos) << r.output;
  }
}

// --- information -----------------------------------------------------------------------------

class device_info_test : public ndl_test::device_test {};

NDL_TEST_P(device_info_test, information_is_plausible) {
  EXPECT_FALSE(dev().name().empty());
  EXPECT_GE(dev().compute_units(), 1u);
  // Both backends declare 1024-work-item groups (CUDA's block limit).
  EXPECT_GE(dev().max_work_group_size(), 1024u);
  EXPECT_GT(dev().local_memory_bytes(), 0u);
  EXPECT_NE(dev().is_cpu(), dev().is_gpu());
  EXPECT_EQ(dev().is_cpu(), dev().kind() == ndl::device_kind::cpu);
  if (dev().is_cpu()) {
    EXPECT_EQ(dev().backend(), ndl::backend_kind::cpu);
    EXPECT_EQ(dev().filter_string().rfind("cpu:", 0), 0u);
  } else {
    EXPECT_EQ(dev().backend(), ndl::backend_kind::cuda);
    EXPECT_EQ(dev().filter_string().rfind("cuda:", 0), 0u);
  }
}

NDL_TEST_P(device_info_test, copies_are_the_same_device) {
  const ndl::device copy = dev();
  EXPECT_TRUE(copy == dev());
  EXPECT_EQ(copy.impl(), dev().impl());
  EXPECT_EQ(&copy.name(), &dev().name()) << "a device is a handle into one registry entry";
}

}  // namespace
