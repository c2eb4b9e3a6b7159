// Every public entry point with invalid input, as one table: each row must raise its typed
// ndl::error with a message naming what was wrong, and leave the runtime usable (the same
// queue then runs a launch and a copy correctly and has no error left to report).
//
// Rank mismatches (an item<2> kernel over a range<1>, a nd_range whose global and local ranks
// differ, a view of the wrong rank) are compile-time errors: see tests/compile_fail/.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <ndl/ndl.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

// The huge-allocation rows expect out_of_memory; under the sanitizers that needs
// allocator_may_return_null=1, which usm_test.cpp sets for this executable.

namespace {

struct write_ids {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<int, 1> out) const {
    out[it.get_id(0)] = static_cast<int>(it.get_id(0));
  }
};

struct write_ids_nd {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> out) const {
    out[it.get_global_id(0)] = static_cast<int>(it.get_global_id(0));
  }
};

struct with_local {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> out,
                                ndl::local_accessor<int, 1> tmp) const {
    tmp[it.get_local_id(0)] = 1;
    out[it.get_global_id(0)] = tmp[it.get_local_id(0)];
  }
};

struct with_local_range {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<int, 1> out,
                                ndl::local_accessor<int, 1> tmp) const {
    out[it.get_id(0)] = static_cast<int>(tmp.size());
  }
};

struct copy_floats {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> x,
                                ndl::view<const float, 1> y) const {
    x[it.get_id(0)] = y[it.get_id(0)];
  }
};

struct no_args {
  NDL_KERNEL_FN void operator()(ndl::item<2>) const {}
};

/// One row of the table: what is done wrong, the error it must raise, words its message must
/// contain, and the action (given a queue of the device under test).
struct bad_input {
  const char* what;
  ndl::errc code;
  std::vector<std::string> words;
  std::function<void(const ndl::queue&)> action;
};

int negative_one() {
  volatile int n = -1;  // not a constant: the check happens at run time
  return n;
}

std::vector<bad_input> table(const ndl::device& dev) {
  using ndl::errc;
  const size_t max_group = dev.max_work_group_size();
  const size_t local_bytes = dev.local_memory_bytes();
  return {
      // --- index spaces --------------------------------------------------------------------
      {"range from a negative int",
       errc::invalid_range,
       {"-1"},
       [](const ndl::queue&) { (void)ndl::range<1>(negative_one()); }},
      {"range with a negative extent in dimension 1",
       errc::invalid_range,
       {"-1", "1"},
       [](const ndl::queue&) { (void)ndl::range<2>(4, negative_one()); }},
      {"range of more than 2^64 work-items",
       errc::invalid_range,
       {"2^64"},
       [](const ndl::queue& q) {
         ndl::call_kernel(q, no_args{}, ndl::range<2>(size_t{1} << 40, size_t{1} << 40));
       }},
      {"nd_range with a zero local extent",
       errc::invalid_range,
       {"zero"},
       [](const ndl::queue&) { (void)ndl::nd_range<1>({8}, {0}); }},
      {"nd_range whose local range does not divide the global one",
       errc::invalid_range,
       {"does not divide", "10", "4"},
       [](const ndl::queue&) { (void)ndl::nd_range<1>({10}, {4}); }},
      {"nd_range whose local range is larger than the global one",
       errc::invalid_range,
       {"does not divide", "16"},
       [](const ndl::queue&) {
         (void)ndl::nd_range<2>({4, 4}, {4, 16});
       }},
      {"work-group above the device's maximum",
       errc::invalid_range,
       {"exceeds the maximum", std::to_string(max_group)},
       [max_group](const ndl::queue& q) {
         auto out = ndl::array<int>::zeros({2 * max_group}, q);
         ndl::call_kernel(write_ids_nd{}, ndl::nd_range<1>({2 * max_group}, {2 * max_group}), out);
       }},
      // --- local memory --------------------------------------------------------------------
      {"local memory above the device's limit",
       errc::invalid_argument,
       {"local memory", std::to_string(local_bytes)},
       [local_bytes](const ndl::queue& q) {
         auto out = ndl::array<int>::zeros({64}, q);
         ndl::call_kernel(
             with_local{}, ndl::nd_range<1>({64}, {64}), out,
             ndl::local_accessor<int, 1>(ndl::range<1>(local_bytes / sizeof(int) + 1)));
       }},
      {"local memory in a range launch",
       errc::invalid_argument,
       {"local_accessor", "nd_range"},
       [](const ndl::queue& q) {
         auto out = ndl::array<int>::zeros({64}, q);
         ndl::call_kernel(with_local_range{}, ndl::range<1>(64), out,
                          ndl::local_accessor<int, 1>(ndl::range<1>(8)));
       }},
      {"local accessor of zero elements",
       errc::invalid_argument,
       {"at least one element"},
       [](const ndl::queue& q) {
         auto out = ndl::array<int>::zeros({64}, q);
         ndl::call_kernel(with_local{}, ndl::nd_range<1>({64}, {64}), out,
                          ndl::local_accessor<int, 1>(ndl::range<1>(0)));
       }},
      // --- arrays --------------------------------------------------------------------------
      {"default-constructed array argument",
       errc::invalid_argument,
       {"argument 0", "default-constructed"},
       [](const ndl::queue& q) {
         ndl::call_kernel(q, write_ids{}, ndl::range<1>(8), ndl::array<int>{});
       }},
      {"moved-from array argument",
       errc::invalid_argument,
       {"argument 0"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int>::zeros({8}, q);
         auto b = std::move(a);
         ndl::call_kernel_async(write_ids{}, ndl::range<1>(8), {}, a);  // NOLINT: use after move
       }},
      {"arrays of two queues without an explicit queue",
       errc::queue_inference,
       {"argument 0", "argument 1"},
       [](const ndl::queue& q) {
         const ndl::queue other(q.get_device());
         auto a = ndl::array<float>::zeros({8}, q);
         auto b = ndl::array<float>::zeros({8}, other);
         ndl::call_kernel(copy_floats{}, ndl::range<1>(8), a, b);
       }},
      {"host data of the wrong size",
       errc::invalid_argument,
       {"6", "8"},
       [](const ndl::queue& q) {
         const std::vector<int> host(6, 1);
         (void)ndl::array<int, 2>::from_host(host, {2, 4}, q);
       }},
      {"copy to a host buffer of the wrong size",
       errc::invalid_argument,
       {"3", "8"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int>::zeros({8}, q);
         std::vector<int> host(3);
         a.copy_to_host(host);
       }},
      {"slice outside its dimension",
       errc::invalid_argument,
       {"slice"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int>::zeros({8}, q);
         (void)a(ndl::slice(2, 12));
       }},
      {"slice with a zero step",
       errc::invalid_argument,
       {"slice"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int>::zeros({8}, q);
         (void)a(ndl::slice(0, 4, 0));
       }},
      {"index outside its dimension",
       errc::invalid_argument,
       {"index", "8"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int, 2>::zeros({8, 2}, q);
         (void)a(8, ndl::all);
       }},
      {"array whose size overflows 64 bits",
       errc::out_of_memory,
       {"overflows"},
       [](const ndl::queue& q) {
         (void)ndl::array<double, 2>::empty({size_t{1} << 40, size_t{1} << 40}, q);
       }},
      {"array larger than memory",
       errc::out_of_memory,
       {"cannot allocate"},
       [](const ndl::queue& q) { (void)ndl::array<char>::empty({size_t{1} << 60}, q); }},
      // --- USM -----------------------------------------------------------------------------
      {"free of memory that is not a USM allocation",
       errc::invalid_argument,
       {"not the start of a live USM allocation"},
       [](const ndl::queue& q) {
         int local = 0;
         ndl::free(&local, q);
       }},
      {"double free",
       errc::invalid_argument,
       {"double free"},
       [](const ndl::queue& q) {
         int* p = ndl::malloc_device<int>(4, q);
         ndl::free(p, q);
         ndl::free(p, q);
       }},
      {"free of a pointer inside an allocation",
       errc::invalid_argument,
       {"not the start"},
       [](const ndl::queue& q) {
         int* p = ndl::malloc_shared<int>(4, q);
         try {
           ndl::free(p + 1);
         } catch (...) {
           ndl::free(p);
           throw;
         }
       }},
      {"USM allocation larger than memory",
       errc::out_of_memory,
       {"cannot allocate"},
       [](const ndl::queue& q) { (void)ndl::malloc(size_t{1} << 60, q, ndl::usm_kind::device); }},
      {"USM element count overflowing 64 bits",
       errc::out_of_memory,
       {"overflows"},
       [](const ndl::queue& q) {
         (void)ndl::malloc_device<double>(std::numeric_limits<size_t>::max() / 4, q);
       }},
      {"memcpy to a null pointer",
       errc::invalid_argument,
       {"null destination"},
       [](const ndl::queue& q) {
         int x = 0;
         q.memcpy(nullptr, &x, sizeof x);
       }},
      {"memcpy_async from a null pointer",
       errc::invalid_argument,
       {"null source"},
       [](const ndl::queue& q) {
         int x = 0;
         (void)q.memcpy_async(&x, nullptr, sizeof x);
       }},
      {"fill of a null pointer",
       errc::invalid_argument,
       {"null pointer"},
       [](const ndl::queue& q) { q.fill(static_cast<int*>(nullptr), 1, 4); }},
      {"fill through a misaligned pointer",
       errc::invalid_argument,
       {"aligned"},
       [](const ndl::queue& q) {
         int* p = ndl::malloc_device<int>(8, q);
         auto* odd = reinterpret_cast<int*>(reinterpret_cast<std::uintptr_t>(p) + 1);
         try {
           q.fill(odd, 1, 4);
         } catch (...) {
           ndl::free(p, q);
           throw;
         }
       }},
      // --- events and devices --------------------------------------------------------------
      {"profiling times from a queue without profiling",
       errc::invalid_argument,
       {"enable_profiling"},
       [](const ndl::queue& q) {
         auto a = ndl::array<int>::zeros({8}, q);
         auto [host, dev_event] = ndl::call_kernel_async(write_ids{}, ndl::range<1>(8), {}, a);
         host.wait();
         (void)dev_event.profiling_start();
       }},
      {"malformed device filter",
       errc::invalid_argument,
       {"cpu:x"},
       [](const ndl::queue&) { (void)ndl::device("cpu:x"); }},
      {"device filter matching no device",
       errc::invalid_argument,
       {"cpu:99"},
       [](const ndl::queue&) { (void)ndl::device("cpu:99"); }},
  };
}

/// The queue runs a launch and a copy correctly, and has no error left to report.
void expect_usable(const ndl::queue& q) {
  auto a = ndl::array<int>::zeros({100}, q);
  auto [host, dev_event] = ndl::call_kernel_async(write_ids{}, ndl::range<1>(100), {}, a);
  ndl::wait({host, dev_event});
  std::vector<int> expect(100);
  for (int i = 0; i < 100; ++i)
    expect[i] = i;
  EXPECT_EQ(a.to_host(), expect);
  int* p = ndl::malloc_device<int>(4, q);
  q.fill(p, 7, 4);
  int back[4] = {};
  q.memcpy(back, p, sizeof back);
  ndl::free(p, q);
  EXPECT_EQ(back[3], 7);
  EXPECT_NO_THROW(q.wait());
}

class bad_input_test : public ndl_test::device_test {};

}  // namespace

NDL_TEST_P(bad_input_test, every_entry_point_refuses_bad_input_and_stays_usable) {
  const auto rows = table(dev());
  for (const bool in_order : {true, false}) {
    const ndl::queue q = make_queue(in_order);
    for (const bad_input& row : rows) {
      SCOPED_TRACE(std::string(row.what) + (in_order ? " (in-order queue)" : " (out-of-order)"));
      try {
        row.action(q);
        ADD_FAILURE() << "no error: expected errc::" << ndl::to_string(row.code);
      } catch (const ndl::error& e) {
        EXPECT_EQ(e.code(), row.code) << e.what();
        for (const std::string& w : row.words)
          EXPECT_NE(e.message().find(w), std::string::npos)
              << "message lacks \"" << w << "\": " << e.message();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "expected ndl::error, got: " << e.what();
      }
      expect_usable(q);
    }
  }
}

// Events outlive their queue: depending on one from a destroyed queue is valid, whether it
// has completed or is still running.
NDL_TEST_P(bad_input_test, events_of_a_destroyed_queue_remain_valid_dependencies) {
  auto out = ndl::array<int>::zeros({64}, default_queue());
  ndl::event done, running;
  {
    const ndl::queue gone = make_queue();
    auto a = ndl::array<int>::zeros({1 << 16}, gone);
    done = ndl::call_kernel_async(write_ids{}, ndl::range<1>(1 << 16), {}, a).device_event;
    done.wait();
    running = ndl::call_kernel_async(write_ids{}, ndl::range<1>(1 << 16), {}, a).host_event;
  }
  auto [host, dev_event] =
      ndl::call_kernel_async(write_ids{}, ndl::range<1>(64), {done, running}, out);
  ndl::wait({host, dev_event});
  EXPECT_TRUE(running.is_complete());
  EXPECT_EQ(out.to_host()[63], 63);
}

// A dependency that failed fails the dependent launch, which does not run.
NDL_TEST_P(bad_input_test, failed_dependency_fails_the_dependent_without_running_it) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::queue q = make_queue(/*in_order=*/false);
  auto out = ndl::array<int>::full({8}, -5, q);
  auto failed = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("bad input upstream"); }),
      ndl::range<1>(1), {});
  auto dependent =
      ndl::call_kernel_async(write_ids{}, ndl::range<1>(8), {failed.device_event}, out);
  EXPECT_TRUE(ndl_test::throws_error([&] { dependent.device_event.wait(); },
                                     ndl::errc::dependency_failed, {"bad input upstream"}));
  EXPECT_EQ(out.to_host(), std::vector<int>(8, -5));
  EXPECT_THROW(q.wait(), ndl::error);  // the root failure nobody waited for, reported once
  EXPECT_NO_THROW(q.wait());
  expect_usable(q);
}

// Edge values next to the bad ones are valid: nothing to do is not an error.
NDL_TEST_P(bad_input_test, empty_inputs_next_to_the_bad_ones_are_valid) {
  const ndl::queue q = make_queue();
  auto out = ndl::array<int>::full({4}, -1, q);
  ndl::call_kernel(write_ids{}, ndl::range<1>(0), out);  // zero work-items: a no-op
  ndl::call_kernel(write_ids_nd{}, ndl::nd_range<1>({0}, {4}), out);
  EXPECT_EQ(out.to_host(), std::vector<int>(4, -1));
  // A zero extent makes the element count zero however large the other extents are.
  const auto empty = ndl::array<int, 3>::zeros({0, size_t{1} << 40, size_t{1} << 40}, q);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.to_host().empty());
  q.memcpy(nullptr, nullptr, 0);
  q.fill(static_cast<int*>(nullptr), 1, 0);
  ndl::free(nullptr, q);
  expect_usable(q);
}
