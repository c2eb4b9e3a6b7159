// sum_reduction_recursive: the sum of an array by repeated tree-reduction launches, each
// reducing every work-group to one partial sum, until one value is left.
//
// The C++ counterpart of numba-dpex's examples/kernel/sum_reduction_recursive.py. The kernel
// reduces the first `input_size` elements of its input per work-group (a local accessor and
// a barrier in a loop) and writes one partial sum per group. The global range is padded up to
// a multiple of the work-group size; padding work-items contribute zero. The host recursion
// ping-pongs between two buffers: the partial sums of one pass are the input of the next,
// and the next pass writes over the previous input, as numba-dpex does (the input array is
// overwritten). For n = 20000 and work-groups of 64 the passes reduce 20000 -> 313 -> 5 -> 1.
//
// One difference from numba-dpex: its first pass launches n work-items unpadded when
// n <= 64, which fails unless n == 64; here every pass pads.
//
// Cases, each checked exactly (and the sequence of pass sizes too):
//   1. numba-dpex's: n = 20000 int32 ones -> 20000 (passes 20000 -> 313 -> 5 -> 1).
//   2. n int32 values drawn uniformly from [0, 3] (default n = 1,000,003; 1000 under
//      ThreadSanitizer) -> the host's sum.
//
// Usage: ndl_example_sum_reduction_recursive [device-filter|all] [n]
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

// Reduces the first `input_size` elements of `input` to one partial sum per work-group,
// written to partial_sums[group id]. The work-group size must be a power of two. A named
// function object, as the kernel is launched from several places.
struct sum_reduction_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<const std::int32_t, 1> input,
                                ndl::size_t input_size, ndl::view<std::int32_t, 1> partial_sums,
                                ndl::local_accessor<std::int32_t, 1> slm) const {
    const ndl::size_t lid = it.get_local_id(0);
    const ndl::size_t gid = it.get_global_id(0);
    const auto g = it.get_group();

    // Padding work-items (beyond input_size) contribute zero.
    slm[lid] = gid < input_size ? input[gid] : 0;
    for (ndl::size_t stride = it.get_local_range(0) / 2; stride > 0; stride >>= 1) {
      ndl::group_barrier(g);  // the previous step's (or the copy's) writes are visible
      if (lid < stride) slm[lid] += slm[lid + stride];
    }
    if (lid == 0) partial_sums[g.get_group_id(0)] = slm[0];
  }
};

// Sums the first `size` elements of `input` by one launch per pass, recursing on the partial
// sums; `partial_sums` must hold at least ceil(size / group) elements. Both arrays are
// overwritten. Appends the number of values left after each pass to `passes`.
std::int32_t sum_recursive_reduction(ndl::size_t size, ndl::size_t group,
                                     const ndl::array<std::int32_t>& input,
                                     const ndl::array<std::int32_t>& partial_sums,
                                     std::vector<ndl::size_t>& passes) {
  const ndl::size_t groups = (size + group - 1) / group;
  const ndl::local_accessor<std::int32_t, 1> slm{ndl::range{group}};
  ndl::call_kernel(sum_reduction_kernel{},
                   ndl::nd_range{ndl::range{groups * group}, ndl::range{group}}, input, size,
                   partial_sums, slm);
  passes.push_back(groups);

  if (groups <= group) {
    // One work-group reduces the partial sums into input[0].
    ndl::call_kernel(sum_reduction_kernel{}, ndl::nd_range{ndl::range{group}, ndl::range{group}},
                     partial_sums, groups, input, slm);
    passes.push_back(1);
    return input(ndl::slice(0, 1)).to_host()[0];
  }
  // The partial sums become the input; the old input receives the next partial sums.
  return sum_recursive_reduction(groups, group, partial_sums, input, passes);
}

struct outcome {
  bool ok = false;
  double ms = 0;                    // wall time of all the passes (launches and the read-back)
  std::int64_t sum = 0;             // the result
  std::vector<ndl::size_t> passes;  // values left after each pass
  std::string detail;               // why it failed
};

outcome run(const ndl::device& dev, const std::vector<std::int32_t>& a_host,
            const std::vector<ndl::size_t>& expected_passes) {
  const ndl::size_t n = a_host.size();
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<std::int32_t>::from_host(a_host, q);
  auto partial_sums =
      ndl::array<std::int32_t>::zeros({(n + work_group_size - 1) / work_group_size}, q);

  outcome out;
  const auto t0 = std::chrono::steady_clock::now();
  out.sum = sum_recursive_reduction(n, work_group_size, a, partial_sums, out.passes);
  const auto t1 = std::chrono::steady_clock::now();
  out.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  std::int64_t want = 0;
  for (std::int32_t v : a_host)
    want += v;
  if (out.sum != want) {
    out.detail = "sum " + std::to_string(out.sum) + ", expected " + std::to_string(want);
    return out;
  }
  if (!expected_passes.empty() && out.passes != expected_passes) {
    out.detail = "unexpected sequence of passes";
    return out;
  }
  out.ok = true;
  return out;
}

std::string describe_passes(ndl::size_t n, const std::vector<ndl::size_t>& passes) {
  std::string s = std::to_string(n);
  for (ndl::size_t p : passes)
    s += " -> " + std::to_string(p);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const ndl::size_t n = argc > 2     ? std::strtoull(argv[2], nullptr, 10)
                          : tsan_build ? 1000
                                       : 1000003;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "sum_reduction_recursive: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    // numba-dpex's input (with its sequence of passes), and a larger one of random values.
    const std::vector<std::int32_t> ones(20000, 1);
    std::vector<std::int32_t> random(n);
    std::mt19937 gen(777);
    std::uniform_int_distribution<std::int32_t> dist(0, 3);
    for (std::int32_t& v : random)
      v = dist(gen);
    const struct {
      const char* what;
      const std::vector<std::int32_t>& input;
      std::vector<ndl::size_t> passes;  // expected; empty: not checked
    } cases[] = {{"ones", ones, {313, 5, 1}}, {"random 0..3", random, {}}};

    int failures = 0;
    for (const ndl::device& dev : devices)
      for (const auto& c : cases) {
        outcome r;
        try {
          r = run(dev, c.input, c.passes);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf(
            "%s sum_reduction_recursive n=%zu (%s) work-group %zu on %s (%s): sum %lld, passes "
            "%s, %.3f ms%s%s\n",
            r.ok ? "PASS" : "FAIL", c.input.size(), c.what,
            static_cast<std::size_t>(work_group_size), dev.filter_string().c_str(),
            dev.name().c_str(), static_cast<long long>(r.sum),
            describe_passes(c.input.size(), r.passes).c_str(), r.ms, r.ok ? "" : ": ",
            r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sum_reduction_recursive: %s\n", e.what());
    return 2;
  }
}
