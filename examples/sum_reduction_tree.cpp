// sum_reduction_tree: the sum of an array by a tree reduction in each work-group, then a sum
// of the groups' partial sums on the host.
//
// The C++ counterpart of numba-dpex's examples/kernel/sum_reduction_tree.py: each work-item
// copies its element into a local accessor; the group then halves the number of active
// work-items per step (a barrier before each step) until work-item 0 holds the group's sum,
// which it writes to partial_sums[group id]. The host adds the partial sums.
//
// The work-group size must be a power of two and divide n (numba-dpex's kernel has the same
// limits). Cases, each checked exactly:
//   1. numba-dpex's: n = 1024 int32 ones, work-groups of 64 (16 groups) -> 1024.
//   2. n int32 values drawn uniformly from [0, 9] (default n = 1,048,576; 2048 under
//      ThreadSanitizer), work-groups of 64, -> the host's sum, and every partial sum against
//      the host's sum of its group.
//
// Usage: ndl_example_sum_reduction_tree [device-filter|all] [n]
//   Prints PASS or FAIL per device and case; exits non-zero on failure.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
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

constexpr ndl::size_t work_group_size = 64;

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::int64_t sum = 0;  // the result
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev, const std::vector<std::int32_t>& a_host) {
  const ndl::size_t n = a_host.size();
  const ndl::size_t groups = n / work_group_size;

  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<std::int32_t>::from_host(a_host, q);
  auto partial_sums = ndl::array<std::int32_t>::full({groups}, -1, q);
  // numba-dpex's slm: one element per work-item of a group.
  const ndl::local_accessor<std::int32_t, 1> slm{ndl::range{work_group_size}};

  auto sum_reduction = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const std::int32_t, 1> x,
                                        ndl::view<std::int32_t, 1> partial,
                                        ndl::local_accessor<std::int32_t, 1> local) {
    const ndl::size_t lid = it.get_local_id(0);
    const auto g = it.get_group();

    local[lid] = x[it.get_global_id(0)];
    // Each step adds the upper half of the active elements onto the lower half.
    for (ndl::size_t stride = it.get_local_range(0) / 2; stride > 0; stride >>= 1) {
      ndl::group_barrier(g);  // the previous step's (or the copy's) writes are visible
      if (lid < stride) local[lid] += local[lid + stride];
    }
    if (lid == 0) partial[g.get_group_id(0)] = local[0];
  };

  const ndl::nd_range<1> space{ndl::range{n}, ndl::range{work_group_size}};
  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(sum_reduction, space, a, partial_sums, slm);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // Integer sums: exact. Each group's partial sum must match, and so must the total.
  const std::vector<std::int32_t> partial_host = partial_sums.to_host();
  std::int64_t want_total = 0;
  for (ndl::size_t g = 0; g < groups; ++g) {
    std::int64_t want = 0;
    for (ndl::size_t i = g * work_group_size; i < (g + 1) * work_group_size; ++i)
      want += a_host[i];
    want_total += want;
    out.sum += partial_host[g];  // the host's final step, as in numba-dpex
    if (partial_host[g] != want) {
      out.detail = "partial_sums[" + std::to_string(g) + "] = " + std::to_string(partial_host[g]) +
                   ", expected " + std::to_string(want);
      return out;
    }
  }
  if (out.sum != want_total) {
    out.detail = "sum " + std::to_string(out.sum) + ", expected " + std::to_string(want_total);
    return out;
  }
  out.ok = true;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const ndl::size_t n = argc > 2     ? std::strtoull(argv[2], nullptr, 10)
                          : tsan_build ? 2048
                                       : ndl::size_t{1} << 20;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "sum_reduction_tree: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    // numba-dpex's input, and a larger one of random digits.
    const std::vector<std::int32_t> ones(1024, 1);
    std::vector<std::int32_t> digits(n);
    std::mt19937 gen(777);
    std::uniform_int_distribution<std::int32_t> dist(0, 9);
    for (std::int32_t& v : digits)
      v = dist(gen);
    const struct {
      const char* what;
      const std::vector<std::int32_t>& input;
    } cases[] = {{"ones", ones}, {"random digits", digits}};

    int failures = 0;
    for (const ndl::device& dev : devices)
      for (const auto& c : cases) {
        outcome r;
        try {
          r = run(dev, c.input);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf(
            "%s sum_reduction_tree n=%zu (%s) work-group %zu on %s (%s): sum %lld, launch "
            "%.3f ms%s%s\n",
            r.ok ? "PASS" : "FAIL", c.input.size(), c.what,
            static_cast<std::size_t>(work_group_size), dev.filter_string().c_str(),
            dev.name().c_str(), static_cast<long long>(r.sum), r.launch_ms, r.ok ? "" : ": ",
            r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sum_reduction_tree: %s\n", e.what());
    return 2;
  }
}
