// vector_sum: c = a + b over a 1-D range, the "hello world" of ndlaunch.
//
// The C++ counterpart of numba-dpex's examples/kernel/vector_sum.py: the kernel takes the
// work-item first, then the arrays; each ndl::array arrives in the kernel as an ndl::view.
// No queue is named at the launch: it is inferred from the arrays ("compute follows data").
//
// Usage: ndl_example_vector_sum [device-filter|all] [n]
//   Runs on every device (or those matching the filter, e.g. "cpu", "cuda:0"), checks the
//   result against the host and prints PASS or FAIL per device; exits non-zero on failure.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev, ndl::size_t n) {
  // Random inputs, as in numba-dpex (a fixed seed keeps runs reproducible).
  std::mt19937 gen(777);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> a_host(n), b_host(n);
  for (ndl::size_t i = 0; i < n; ++i) {
    a_host[i] = dist(gen);
    b_host[i] = dist(gen);
  }

  // Arrays on the device's canonical default queue.
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<float>::from_host(a_host, q);
  auto b = ndl::array<float>::from_host(b_host, q);
  auto c = ndl::array<float>::zeros({n}, q);

  // Inputs are taken as views of const float: a view<float> converts to one.
  auto vector_sum = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const float, 1> x,
                                     ndl::view<const float, 1> y, ndl::view<float, 1> z) {
    const ndl::size_t i = it.get_id(0);
    z[i] = x[i] + y[i];
  };

  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(vector_sum, ndl::range{n}, a, b, c);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // One IEEE single-precision addition per element: the host computes the identical value,
  // so the comparison is exact.
  const std::vector<float> c_host = c.to_host();
  for (ndl::size_t i = 0; i < n; ++i) {
    const float want = a_host[i] + b_host[i];
    if (c_host[i] != want) {
      out.detail = "c[" + std::to_string(i) + "] = " + std::to_string(c_host[i]) + ", expected " +
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
    const ndl::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : ndl::size_t{1} << 20;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "vector_sum: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev, n);
      } catch (const std::exception& e) {
        r.detail = e.what();  // an ndl::error names the argument and the numbers involved
      }
      std::printf("%s vector_sum n=%zu on %s (%s): launch %.3f ms%s%s\n", r.ok ? "PASS" : "FAIL",
                  static_cast<std::size_t>(n), dev.filter_string().c_str(), dev.name().c_str(),
                  r.launch_ms, r.ok ? "" : ": ", r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vector_sum: %s\n", e.what());
    return 2;
  }
}
