// pairwise_distance: the Euclidean distance between every pair of n points in d dimensions.
//
// The C++ counterpart of numba-dpex's examples/kernel/pairwise_distance.py: an nd-range
// launch with one work-item per point (global size n, work-group size l), each computing
// one row of the n x n distance matrix; the launch is timed over r repetitions. The result
// is checked against the same computation on the host.
//
// Usage: ndl_example_pairwise_distance [device-filter|all] [n [d [l [r]]]]
//   n points (default 2048), d dimensions (3), work-group size l (64, must divide n),
//   r repetitions (3). Prints PASS or FAIL per device; exits non-zero on failure.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

struct params {
  ndl::size_t n = 2048;    // points
  ndl::size_t d = 3;       // dimensions
  ndl::size_t local = 64;  // work-group size
  unsigned repeats = 3;    // timed launches
};

struct outcome {
  bool ok = false;
  double mean_ms = 0;  // mean wall time of one synchronous launch
  double best_ms = 0;  // fastest launch
  std::string detail;  // why it failed
};

outcome run(const ndl::device& dev, const params& p) {
  // Points uniform in [0, 1), as numpy.random.random in numba-dpex.
  std::mt19937 gen(777);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x_host(p.n * p.d);
  for (float& v : x_host)
    v = dist(gen);

  const ndl::queue q = ndl::queue::default_queue(dev);
  auto x = ndl::array<float, 2>::from_host(x_host, {p.n, p.d}, q);
  // NaN everywhere: an element no work-item wrote compares unequal to every expected value.
  auto distances =
      ndl::array<float, 2>::full({p.n, p.n}, std::numeric_limits<float>::quiet_NaN(), q);

  // Work-item `idx` fills row `idx`. The shape comes from the view, so no extra scalar
  // arguments are needed (numba-dpex passes X.shape too, but reads X.shape inside).
  auto pairwise_distance = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const float, 2> pts,
                                            ndl::view<float, 2> out) {
    const ndl::size_t idx = it.get_global_id(0);
    const ndl::size_t n = pts.extent(0);
    const ndl::size_t dims = pts.extent(1);
    for (ndl::size_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (ndl::size_t k = 0; k < dims; ++k) {
        const float diff = pts(idx, k) - pts(j, k);
        sum += diff * diff;
      }
      out(idx, j) = std::sqrt(sum);
    }
  };

  // Validates l | n before any launch: an ndl::error names both ranges otherwise.
  const ndl::nd_range<1> space{ndl::range{p.n}, ndl::range{p.local}};

  outcome out;
  out.best_ms = std::numeric_limits<double>::infinity();
  double total_ms = 0;
  for (unsigned rep = 0; rep < p.repeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    ndl::call_kernel(pairwise_distance, space, x, distances);
    const auto t1 = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    total_ms += ms;
    out.best_ms = std::min(out.best_ms, ms);
  }
  out.mean_ms = p.repeats ? total_ms / p.repeats : 0.0;

  // The host runs the same loop in float. A GPU may fuse the multiply-add, so the results
  // agree to a few ulps, not bit for bit: a relative tolerance of 1e-5 allows that.
  const std::vector<float> got = distances.to_host();
  for (ndl::size_t i = 0; i < p.n; ++i)
    for (ndl::size_t j = 0; j < p.n; ++j) {
      float sum = 0.0f;
      for (ndl::size_t k = 0; k < p.d; ++k) {
        const float diff = x_host[i * p.d + k] - x_host[j * p.d + k];
        sum += diff * diff;
      }
      const float want = std::sqrt(sum);
      const float v = got[i * p.n + j];
      if (!(std::abs(v - want) <= 1e-5f * std::max(1.0f, want))) {
        out.detail = "D(" + std::to_string(i) + ", " + std::to_string(j) +
                     ") = " + std::to_string(v) + ", expected " + std::to_string(want);
        return out;
      }
    }
  out.ok = p.repeats > 0;
  if (!out.ok) out.detail = "no launch was run (r = 0)";
  return out;
}

ndl::size_t arg_or(int argc, char** argv, int i, ndl::size_t fallback) {
  return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    params p;
    p.n = arg_or(argc, argv, 2, p.n);
    p.d = arg_or(argc, argv, 3, p.d);
    p.local = arg_or(argc, argv, 4, p.local);
    p.repeats = static_cast<unsigned>(arg_or(argc, argv, 5, p.repeats));
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "pairwise_distance: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev, p);
      } catch (const std::exception& e) {
        r.detail = e.what();
      }
      std::printf(
          "%s pairwise_distance n=%zu d=%zu l=%zu on %s (%s): mean of %u launches %.3f ms, "
          "best %.3f ms%s%s\n",
          r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(p.n), static_cast<std::size_t>(p.d),
          static_cast<std::size_t>(p.local), dev.filter_string().c_str(), dev.name().c_str(),
          p.repeats, r.mean_ms, r.ok ? r.best_ms : 0.0, r.ok ? "" : ": ", r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pairwise_distance: %s\n", e.what());
    return 2;
  }
}
