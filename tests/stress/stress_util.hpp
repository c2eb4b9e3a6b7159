// Sizes, clocks and runtime counters shared by the stress tests.
//
// Every stress test states its size at the scale a developer's Debug build runs in CI
// (a few seconds per test on two cores) and asks scaled() for the size to run:
//
//   NDL_STRESS_SCALE=10 ./ndl_stress_tests    # ten times larger, for manual runs
//   NDL_STRESS_SCALE=0.1 ./ndl_stress_tests   # a quick smoke run
//
// Sanitizer builds run a fixed share of that (a half under ASan, whose Debug build launches
// about half as fast as the dev build; a quarter under TSan, about three times slower), so
// that they take about as long as the dev build and stay far within the ctest timeout. Each
// test prints the sizes it used and its wall time on a "[ stress ]" line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include "support/sanitizers.hpp"

namespace ndl_stress {

using ndl_test::under_asan;
using ndl_test::under_sanitizer;
using ndl_test::under_tsan;

/// The share of the CI size that sanitizer builds run.
inline constexpr double sanitizer_share = under_tsan ? 1.0 / 4 : under_asan ? 1.0 / 2 : 1.0;

/// NDL_STRESS_SCALE (a positive number, default 1), read once. Defined in stress_runtime.cpp.
double scale();

/// `ci_size` times NDL_STRESS_SCALE (times sanitizer_share in sanitizer builds), and at least
/// `minimum`.
inline std::size_t scaled(std::size_t ci_size, std::size_t minimum = 1) {
  const double n = static_cast<double>(ci_size) * scale() * sanitizer_share;
  return std::max(minimum, static_cast<std::size_t>(n));
}

/// What the runtime holds (its own counters, ndl::detail::get_runtime_stats()).
struct runtime_counts {
  long in_flight = 0;               ///< commands submitted and not yet finished, in every queue
  long commands_alive = 0;          ///< command objects alive (in flight, or held by an event)
  std::size_t usm_allocations = 0;  ///< live USM allocations, arrays' storage included
  std::size_t usm_bytes = 0;        ///< their bytes
};
runtime_counts counts();

/// Commands submitted and not yet finished, in every queue of the process.
inline long in_flight() {
  return counts().in_flight;
}

/// Waits, without running work on this thread, until at most `commands_alive` command
/// objects are alive (a finished command is destroyed shortly after it stops counting as
/// in flight); false after `limit`.
bool settle_alive(long commands_alive, std::chrono::seconds limit = std::chrono::seconds(30));

/// Waits, without running work on this thread, until no command is in flight; false after
/// `limit`.
bool settle(std::chrono::seconds limit = std::chrono::seconds(30));

/// Bytes of heap in use (glibc mallinfo2().uordblks); 0 where that is unavailable.
std::size_t heap_in_use();

/// Measures wall time from construction.
class stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Prints "[ stress ] <what>: <sizes>, <seconds> s" (the figures docs/reliability.md quotes).
inline void report(const std::string& what, const std::string& sizes, double seconds) {
  std::printf("[ stress ] %s: %s, %.2f s\n", what.c_str(), sizes.c_str(), seconds);
  std::fflush(stdout);
}

}  // namespace ndl_stress
