// kernel_private_memory: per-work-item private memory that must survive a group barrier.
//
// The C++ counterpart of numba-dpex's examples/kernel/kernel_private_memory.py: each
// work-item stores its global id in an ndl::private_array of one float, waits at a
// group_barrier, and then writes twice the stored value. If the array were shared between
// the work-items of a group (or lost across the barrier, where the CPU device switches the
// group to one fiber per work-item), the result would not be 2 * id.
//
// Cases, each checked exactly (small integers in float):
//   1. numba-dpex's: n = 100 in one work-group of 100 -> A = 2 * arange(100).
//   2. n = 4096 (1024 under ThreadSanitizer) in work-groups of 256 -> A = 2 * arange(n).
//
// Usage: ndl_example_kernel_private_memory [device-filter|all]
//   Prints PASS or FAIL per device and case; exits non-zero on failure.

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

// ThreadSanitizer builds shrink the larger cases: there the CPU device currently spends about
// 0.5 ms on each work-item of every work-group that reaches a barrier (a TSan fiber is created
// and destroyed per work-item and group), which would make them run for minutes.
#if defined(__SANITIZE_THREAD__)
constexpr bool tsan_build = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool tsan_build = true;
#else
constexpr bool tsan_build = false;
#endif
#else
constexpr bool tsan_build = false;
#endif

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev, ndl::size_t n, ndl::size_t group) {
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<float>::full({n}, -1.0f, q);

  auto private_memory_kernel = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> out) {
    ndl::private_array<float, 1> memory;
    const ndl::size_t i = it.get_global_id(0);

    memory[0] = static_cast<float>(i);  // preload
    ndl::group_barrier(it.get_group());

    // Deterministic only if `memory` is private to each work-item.
    out[i] = memory[0] * 2;
  };

  const ndl::nd_range<1> space{ndl::range{n}, ndl::range{group}};
  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(private_memory_kernel, space, a);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // 2 * i is exact in float for i < 2^23.
  const std::vector<float> got = a.to_host();
  for (ndl::size_t i = 0; i < n; ++i) {
    const float want = 2.0f * static_cast<float>(i);
    if (got[i] != want) {
      out.detail = "A[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", expected " +
                   std::to_string(want);
      return out;
    }
  }
  out.ok = true;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "kernel_private_memory: no device matches '%s'\n", filter.c_str());
      return 2;
    }
    const struct {
      ndl::size_t n, group;
    } cases[] = {{100, 100}, {tsan_build ? 1024u : 4096u, 256}};

    int failures = 0;
    for (const ndl::device& dev : devices)
      for (const auto& c : cases) {
        outcome r;
        try {
          r = run(dev, c.n, c.group);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf(
            "%s kernel_private_memory n=%zu work-group %zu on %s (%s): launch %.3f ms%s%s\n",
            r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(c.n),
            static_cast<std::size_t>(c.group), dev.filter_string().c_str(), dev.name().c_str(),
            r.launch_ms, r.ok ? "" : ": ", r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_private_memory: %s\n", e.what());
    return 2;
  }
}
