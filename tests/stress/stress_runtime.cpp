// The runtime internals the stress tests read. Compiled by the host compiler only (also in
// CUDA builds), so that the tests themselves see nothing but the public API.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/stats.hpp"
#include "stress/stress_util.hpp"

namespace ndl_stress {

double scale() {
  static const double value = [] {
    const char* env = std::getenv("NDL_STRESS_SCALE");
    if (!env || !*env) return 1.0;
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (*end != '\0' || !(v > 0) || v > 1e6) {
      std::fprintf(stderr, "NDL_STRESS_SCALE='%s' is not a positive number; using 1\n", env);
      return 1.0;
    }
    return v;
  }();
  return value;
}

namespace {
// The runtime counts commands alive from the first get_runtime_stats() call on: make it
// before any test, so that every command a test holds is counted.
struct count_from_the_start : ::testing::Environment {
  void SetUp() override { (void)ndl::detail::get_runtime_stats(); }
};
[[maybe_unused]] ::testing::Environment* const counting =
    ::testing::AddGlobalTestEnvironment(new count_from_the_start);
}  // namespace

runtime_counts counts() {
  const ndl::detail::runtime_stats s = ndl::detail::get_runtime_stats();
  return {s.commands_in_flight, s.commands_alive, s.usm_allocations, s.usm_bytes};
}

bool settle_alive(long commands_alive, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (counts().commands_alive > commands_alive) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

bool settle(std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (in_flight() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::size_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

}  // namespace ndl_stress
