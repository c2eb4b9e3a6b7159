// interpolation: evaluates a piecewise cubic polynomial (a natural cubic spline on [10, 90])
// at 4096 points, one polynomial segment per work-group.
//
// The C++ counterpart of numba-dpex's examples/kernel/interpolation.py: 8 segments of width
// 10; the nd-range has 1024 work-items in groups of 128, so group g covers the 512 points of
// segment g. Each work-item copies its group's 4 coefficients (float) into a private_array,
// then evaluates the polynomial by Horner's rule in float at 4 consecutive points, keeping
// each point in a private_array of 1 (as numba-dpex does). x and y are double, as dpnp's
// arange and empty are; the arithmetic is float.
//
// Checks:
//   - y[2047] against numba-dpex's expected 39.97161865234375, within numba-dpex's
//     assert_almost_equal bound 1.5e-7 on the CPU device (this also assumes no fused
//     multiply-adds). Devices that fuse them (GPUs) may round differently; there the bound is
//     the one below.
//   - every point against the same Horner evaluation on the host, within
//     12 * 2^-24 * (|c0 x^3| + |c1 x^2| + |c2 x| + |c3|): by Horner's error bound each float
//     evaluation, fused or not, lies within 6 * 2^-24 times that sum of the terms' magnitudes
//     of the exact value, so two differ by at most twice that (the terms cancel heavily: at
//     x = 80 they are ~1e5 for a result ~70). On the CPU, in a build that does not contract
//     a * b + c into fused multiply-adds (the default x86-64 target), they agree exactly.
//
// Usage: ndl_example_interpolation [device-filter|all]
//   Prints PASS or FAIL per device; exits non-zero on failure.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

// Interpolation domain.
constexpr double x_lo = 10.0;
constexpr double x_hi = 90.0;
// Number of cubic polynomial segments (one per work-group).
constexpr ndl::size_t n_segments = 8;
// Work-items per group, points per work-item, per group, in total.
constexpr ndl::size_t local_size = 128;
constexpr ndl::size_t points_per_work_item = 4;
constexpr ndl::size_t points_per_work_group = points_per_work_item * local_size;
constexpr ndl::size_t n_points = points_per_work_group * n_segments;

// Natural cubic spline coefficients on [10, 90] with a uniform grid: row g holds
// c0..c3 of segment [10 + 10 g, 20 + 10 g], y = ((c0 x + c1) x + c2) x + c3. Written as
// double and rounded to float, as numba-dpex's asarray(..., dtype=float32) does.
constexpr double coefficients_f64[n_segments][4] = {
    {-0.008086340206185568, 0.242590206185567, -0.6172680412371134, 0},
    {0.015431701030927836, -1.168492268041237, 27.60438144329897, -188.1443298969072},
    {-0.0036404639175257733, 0.5480025773195877, -23.890463917525775, 326.8041237113402},
    {-0.010869845360824743, 1.4155283505154639, -58.59149484536083, 789.4845360824743},
    {-0.0028801546391752576, 0.21707474226804124, 1.3311855670103092, -209.22680412371133},
    {0.042390463917525774, -7.9316365979381445, 490.25386597938143, -9987.680412371134},
    {-0.061681701030927835, 13.923518041237113, -1039.6069587628865, 25709.072164948455},
    {0.029336340206185568, -7.920811855670103, 707.9394329896908, -20892.164948453606},
};

// numba-dpex's check: y[2047] (the last point of segment 3).
constexpr ndl::size_t checked_index = 2047;
constexpr double checked_value = 39.97161865234375;
constexpr double checked_tolerance = 1.5e-7;  // numpy's assert_almost_equal, decimal=7

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  double checked = 0;    // y[2047]
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev) {
  // x = arange(10, 90, 80 / 4096): the step is a power of two times 5, so every x is exact.
  std::vector<double> x_host(n_points);
  const double step = (x_hi - x_lo) / static_cast<double>(n_points);
  for (ndl::size_t i = 0; i < n_points; ++i)
    x_host[i] = x_lo + static_cast<double>(i) * step;
  std::vector<float> coefficients_host(n_segments * 4);
  for (ndl::size_t s = 0; s < n_segments; ++s)
    for (ndl::size_t k = 0; k < 4; ++k)
      coefficients_host[s * 4 + k] = static_cast<float>(coefficients_f64[s][k]);

  const ndl::queue q = ndl::queue::default_queue(dev);
  auto x = ndl::array<double>::from_host(x_host, q);
  auto y = ndl::array<double>::full({n_points}, std::numeric_limits<double>::quiet_NaN(), q);
  auto coefficients = ndl::array<float, 2>::from_host(coefficients_host, {n_segments, 4}, q);

  auto kernel_polynomial = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const double, 1> xs,
                                            ndl::view<double, 1> ys,
                                            ndl::view<const float, 2> coeffs) {
    ndl::private_array<float, 4> c;  // the polynomial of this group's segment
    ndl::private_array<float, 1> z;  // the current point, in private memory

    const ndl::size_t gid = it.get_global_id(0);
    const ndl::size_t gr_id = it.get_group().get_group_id(0);

    // The coefficients are the same for the whole work-group.
    for (int k = 0; k < 4; ++k)
      c[k] = coeffs(gr_id, k);

    // Each work-item evaluates points_per_work_item consecutive points.
    for (ndl::size_t i = gid * points_per_work_item; i < (gid + 1) * points_per_work_item; ++i) {
      z[0] = static_cast<float>(xs[i]);
      ys[i] = ((c[0] * z[0] + c[1]) * z[0] + c[2]) * z[0] + c[3];
    }
  };

  const ndl::nd_range<1> space{ndl::range{n_points / points_per_work_item}, ndl::range{local_size}};
  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(kernel_polynomial, space, x, y, coefficients);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::vector<double> got = y.to_host();
  out.checked = got[checked_index];
  for (ndl::size_t i = 0; i < n_points; ++i) {
    const float* c = &coefficients_host[(i / points_per_work_group) * 4];
    const float z = static_cast<float>(x_host[i]);
    const float want = ((c[0] * z + c[1]) * z + c[2]) * z + c[3];
    const double zd = z;
    const double magnitude = std::abs(c[0] * zd * zd * zd) + std::abs(c[1] * zd * zd) +
                             std::abs(c[2] * zd) + std::abs(double{c[3]});
    const double tol = 12.0 * std::ldexp(magnitude, -24);
    if (!(std::abs(got[i] - double{want}) <= tol)) {
      out.detail = "y[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", host computes " +
                   std::to_string(want) + " (tolerance " + std::to_string(tol) + ")";
      return out;
    }
    if (i == checked_index) {
      const double bound = dev.is_cpu() ? checked_tolerance : tol;
      if (!(std::abs(got[i] - checked_value) < bound)) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "y[%zu] = %.17g, numba-dpex expects %.17g (tolerance %g)",
                      static_cast<std::size_t>(i), got[i], checked_value, bound);
        out.detail = buf;
        return out;
      }
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
      std::fprintf(stderr, "interpolation: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev);
      } catch (const std::exception& e) {
        r.detail = e.what();  // an ndl::error names the argument and the numbers involved
      }
      std::printf(
          "%s interpolation %zu points, %zu segments, nd_range {%zu} / {%zu} on %s (%s): "
          "y[%zu] = %.17g, launch %.3f ms%s%s\n",
          r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(n_points),
          static_cast<std::size_t>(n_segments),
          static_cast<std::size_t>(n_points / points_per_work_item),
          static_cast<std::size_t>(local_size), dev.filter_string().c_str(), dev.name().c_str(),
          static_cast<std::size_t>(checked_index), r.checked, r.launch_ms, r.ok ? "" : ": ",
          r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interpolation: %s\n", e.what());
    return 2;
  }
}
