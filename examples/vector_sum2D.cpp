// vector_sum2D: c = a + b over a 2-D range.
//
// The C++ counterpart of numba-dpex's examples/kernel/vector_sum2D.py. The work-item's two
// ids index the arrays: dimension 1 (the last) moves fastest, so `x(i, j)` with
// `j = it.get_id(1)` walks a C-order array contiguously. To show that views carry strides,
// `b` is stored in column-major (Fortran) order: the kernel indexes it exactly like the
// others and the view's strides do the rest.
//
// Usage: ndl_example_vector_sum2D [device-filter|all] [rows [cols]]
//   Runs on every device (or those matching the filter), checks the result against the
//   host and prints PASS or FAIL per device; exits non-zero on failure.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev, ndl::size_t rows, ndl::size_t cols) {
  // a(i, j) = i and b(i, j) = j / 1024: each element of c then tells which (i, j) wrote it.
  std::vector<float> a_host(rows * cols), b_host(rows * cols);
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j) {
      a_host[i * cols + j] = static_cast<float>(i);
      b_host[i * cols + j] = static_cast<float>(j) / 1024.0f;
    }

  const ndl::queue q = ndl::queue::default_queue(dev);
  const ndl::range<2> shape{rows, cols};
  // from_host reads the host data in row-major order whatever the array's own layout.
  auto a = ndl::array<float, 2>::from_host(a_host, shape, q);
  auto b = ndl::array<float, 2>::from_host(b_host, shape, q, ndl::layout::f);
  auto c = ndl::array<float, 2>::zeros(shape, q);

  auto vector_sum2d = [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<const float, 2> x,
                                       ndl::view<const float, 2> y, ndl::view<float, 2> z) {
    const ndl::size_t i = it.get_id(0);
    const ndl::size_t j = it.get_id(1);
    z(i, j) = x(i, j) + y(i, j);
  };

  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(vector_sum2d, ndl::range{rows, cols}, a, b, c);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // The host does the same single float addition (with the same inputs), so compare exactly.
  const std::vector<float> c_host = c.to_host();
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j) {
      const float want = static_cast<float>(i) + static_cast<float>(j) / 1024.0f;
      const float got = c_host[i * cols + j];
      if (got != want) {
        out.detail = "c(" + std::to_string(i) + ", " + std::to_string(j) +
                     ") = " + std::to_string(got) + ", expected " + std::to_string(want);
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
    const ndl::size_t rows = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
    const ndl::size_t cols = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1200;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "vector_sum2D: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev, rows, cols);
      } catch (const std::exception& e) {
        r.detail = e.what();
      }
      std::printf("%s vector_sum2D %zux%zu on %s (%s): launch %.3f ms%s%s\n",
                  r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(rows),
                  static_cast<std::size_t>(cols), dev.filter_string().c_str(), dev.name().c_str(),
                  r.launch_ms, r.ok ? "" : ": ", r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vector_sum2D: %s\n", e.what());
    return 2;
  }
}
