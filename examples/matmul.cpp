// matmul: result = X @ Y with a tiled nd-range kernel that stages tiles in local memory.
//
// The C++ counterpart of numba-dpex's examples/kernel/matmul.py (the sliding-window matmul):
// each work-item computes one element of the result. Work-groups are square (T x T); for
// each tile along the inner dimension a group loads one T x T tile of X and one of Y into two
// local accessors, waits at a barrier, accumulates T products from local memory, and waits
// again before the next tile overwrites them.
//
// The global range may be larger than the result (it is the result's shape rounded up to a
// multiple of T): every load and the store are guarded, out-of-range work-items load zeros
// but still reach every barrier. To prove the guards, X and Y are views into larger arrays
// whose extra elements are NaN (an unguarded load would poison the result) and the result is
// a view into a larger array whose extra elements hold a sentinel (an unguarded store would
// overwrite it).
//
// Cases, each checked against a matmul on the host:
//   1. numba-dpex's: X = Y = arange(25).reshape(5, 5) (float), nd_range {6, 6} / {2, 2};
//      also compared with the result numba-dpex prints, exactly (small integers).
//   2. 256 x 256 @ 256 x 256 random floats, 16 x 16 tiles (global range = result shape).
//   3. 250 x 300 @ 300 x 200 random floats, 16 x 16 tiles, global range {256, 208}.
// Under ThreadSanitizer cases 2 and 3 shrink to 32 x 32 @ 32 x 32 and 30 x 44 @ 44 x 20 with
// 8 x 8 tiles (global ranges {32, 32} and {32, 24}).
//
// Usage: ndl_example_matmul [device-filter|all]
//   Prints PASS or FAIL per device and case; exits non-zero on failure.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
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

struct matmul_case {
  const char* what;
  ndl::size_t rows, inner, cols;  // X is rows x inner, Y is inner x cols
  ndl::size_t tile;               // work-groups of tile x tile
  bool arange;                    // numba-dpex's inputs instead of random ones
};

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::string detail;    // why it failed
};

// The result numba-dpex's matmul.py prints for X = Y = arange(25).reshape(5, 5).
constexpr float numba_dpex_result[5][5] = {{150, 160, 170, 180, 190},
                                           {400, 435, 470, 505, 540},
                                           {650, 710, 770, 830, 890},
                                           {900, 985, 1070, 1155, 1240},
                                           {1150, 1260, 1370, 1480, 1590}};

constexpr float sentinel = -12345.0f;

ndl::size_t round_up(ndl::size_t n, ndl::size_t m) {
  return (n + m - 1) / m * m;
}

// A padded_rows x padded_cols array holding the rows x cols matrix `host` (row-major) in its
// top-left corner and `fill` elsewhere.
ndl::array<float, 2> padded(const std::vector<float>& host, ndl::size_t rows, ndl::size_t cols,
                            ndl::size_t padded_rows, ndl::size_t padded_cols, float fill,
                            const ndl::queue& q) {
  std::vector<float> big(padded_rows * padded_cols, fill);
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j)
      big[i * padded_cols + j] = host[i * cols + j];
  return ndl::array<float, 2>::from_host(big, {padded_rows, padded_cols}, q);
}

// The top-left rows x cols part of `a` (a view sharing its memory).
ndl::array<float, 2> corner(const ndl::array<float, 2>& a, ndl::size_t rows, ndl::size_t cols) {
  return a(ndl::slice(0, static_cast<ndl::ptrdiff_t>(rows)),
           ndl::slice(0, static_cast<ndl::ptrdiff_t>(cols)));
}

// The nd-range of a case: numba-dpex's names its global range, the others round the result's
// shape up to a multiple of the tile.
ndl::nd_range<2> space_of(const matmul_case& c) {
  const ndl::size_t rows = c.arange ? 6 : round_up(c.rows, c.tile);
  const ndl::size_t cols = c.arange ? 6 : round_up(c.cols, c.tile);
  return {ndl::range{rows, cols}, ndl::range{c.tile, c.tile}};
}

outcome run(const ndl::device& dev, const matmul_case& c) {
  const ndl::size_t rows = c.rows, inner = c.inner, cols = c.cols, tile = c.tile;
  std::vector<float> x_host(rows * inner), y_host(inner * cols);
  if (c.arange) {
    for (ndl::size_t i = 0; i < x_host.size(); ++i)
      x_host[i] = static_cast<float>(i);
    for (ndl::size_t i = 0; i < y_host.size(); ++i)
      y_host[i] = static_cast<float>(i);
  } else {
    std::mt19937 gen(777);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : x_host)
      v = dist(gen);
    for (float& v : y_host)
      v = dist(gen);
  }

  const ndl::nd_range<2> space = space_of(c);
  const ndl::size_t global_rows = space.get_global_range()[0];
  const ndl::size_t global_cols = space.get_global_range()[1];
  const ndl::size_t inner_padded = round_up(inner, tile);

  // X, Y and the result are views into larger arrays: NaN around the operands, a sentinel
  // around the result.
  const ndl::queue q = ndl::queue::default_queue(dev);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto x_block = padded(x_host, rows, inner, global_rows, inner_padded, nan, q);
  const auto y_block = padded(y_host, inner, cols, inner_padded, global_cols, nan, q);
  const auto result_block = padded({}, 0, 0, global_rows, global_cols, sentinel, q);
  const auto x = corner(x_block, rows, inner);
  const auto y = corner(y_block, inner, cols);
  const auto result = corner(result_block, rows, cols);

  // X_slm and Y_slm of numba-dpex: one tile of each operand per work-group.
  const ndl::local_accessor<float, 2> x_tile{ndl::range{tile, tile}};
  const ndl::local_accessor<float, 2> y_tile{ndl::range{tile, tile}};

  auto matmul = [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<const float, 2> a,
                                 ndl::view<const float, 2> b, ndl::local_accessor<float, 2> a_tile,
                                 ndl::local_accessor<float, 2> b_tile, ndl::view<float, 2> out) {
    const ndl::size_t n_rows = a.extent(0), n_inner = a.extent(1), n_cols = b.extent(1);
    const ndl::size_t t = it.get_local_range(0);  // square work-groups: t x t
    const ndl::size_t row = it.get_global_id(0), col = it.get_global_id(1);
    const ndl::size_t lr = it.get_local_id(0), lc = it.get_local_id(1);
    const auto g = it.get_group();

    float acc = 0.0f;
    for (ndl::size_t k0 = 0; k0 < n_inner; k0 += t) {
      // Each work-item loads one element of each tile; outside the operands it loads zero.
      a_tile(lr, lc) = (row < n_rows && k0 + lc < n_inner) ? a(row, k0 + lc) : 0.0f;
      b_tile(lr, lc) = (k0 + lr < n_inner && col < n_cols) ? b(k0 + lr, col) : 0.0f;
      ndl::group_barrier(g);  // the tiles are complete
      for (ndl::size_t k = 0; k < t; ++k)
        acc += a_tile(lr, k) * b_tile(k, lc);
      ndl::group_barrier(g);  // all have read the tiles before the next ones are loaded
    }
    if (row < n_rows && col < n_cols) out(row, col) = acc;
  };

  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(matmul, space, x, y, x_tile, y_tile, result);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // The host sums the products in the kernel's order (adding the kernel's zeros changes
  // nothing), so on the CPU the results agree exactly. A GPU may fuse multiply-adds; both
  // sums then lie within inner * 2^-24 * sum|x_ik * y_kj| of the exact value, so they
  // differ by at most twice that. numba-dpex's case is also compared exactly with its
  // printed result (integers below 2^24).
  const std::vector<float> got = result_block.to_host();
  for (ndl::size_t i = 0; i < global_rows; ++i)
    for (ndl::size_t j = 0; j < global_cols; ++j) {
      const float v = got[i * global_cols + j];
      const std::string at = "(" + std::to_string(i) + ", " + std::to_string(j) + ")";
      if (i >= rows || j >= cols) {
        if (v != sentinel) {
          out.detail = "element " + at + " outside the " + std::to_string(rows) + " x " +
                       std::to_string(cols) + " result was overwritten with " + std::to_string(v);
          return out;
        }
        continue;
      }
      float want = 0.0f;
      double magnitude = 0.0;
      for (ndl::size_t k = 0; k < inner; ++k) {
        want += x_host[i * inner + k] * y_host[k * cols + j];
        magnitude += std::abs(double{x_host[i * inner + k]} * double{y_host[k * cols + j]});
      }
      const double tol = 2.0 * static_cast<double>(inner) * std::ldexp(magnitude, -24);
      if (!(std::abs(double{v} - double{want}) <= tol)) {
        out.detail = "result" + at + " = " + std::to_string(v) + ", host computes " +
                     std::to_string(want) + " (tolerance " + std::to_string(tol) + ")";
        return out;
      }
      if (c.arange && v != numba_dpex_result[i][j]) {
        out.detail = "result" + at + " = " + std::to_string(v) + ", numba-dpex prints " +
                     std::to_string(numba_dpex_result[i][j]);
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
      std::fprintf(stderr, "matmul: no device matches '%s'\n", filter.c_str());
      return 2;
    }
    const matmul_case full_cases[] = {
        {"numba-dpex", 5, 5, 5, 2, true},
        {"random", 256, 256, 256, 16, false},
        {"random", 250, 300, 200, 16, false},
    };
    const matmul_case tsan_cases[] = {
        {"numba-dpex", 5, 5, 5, 2, true},
        {"random", 32, 32, 32, 8, false},
        {"random", 30, 44, 20, 8, false},
    };
    const auto& cases = tsan_build ? tsan_cases : full_cases;

    int failures = 0;
    for (const ndl::device& dev : devices)
      for (const matmul_case& c : cases) {
        outcome r;
        const std::string space = ndl::to_string(space_of(c));
        const std::string shapes = std::to_string(c.rows) + "x" + std::to_string(c.inner) + " @ " +
                                   std::to_string(c.inner) + "x" + std::to_string(c.cols);
        try {
          r = run(dev, c);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf("%s matmul (%s) %s nd_range %s on %s (%s): launch %.3f ms%s%s\n",
                    r.ok ? "PASS" : "FAIL", c.what, shapes.c_str(), space.c_str(),
                    dev.filter_string().c_str(), dev.name().c_str(), r.launch_ms, r.ok ? "" : ": ",
                    r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "matmul: %s\n", e.what());
    return 2;
  }
}
