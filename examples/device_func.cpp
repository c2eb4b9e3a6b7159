// device_func: kernels that call helper functions (numba-dpex's device functions).
//
// The C++ counterpart of numba-dpex's examples/kernel/device_func.py. A helper marked
// NDL_KERNEL_FN is callable from kernels on every device and, unlike a kernel, may return a
// value. It may also take the work-item and synchronise its group: a group_barrier inside a
// helper is the same barrier for every work-item that calls it.
//   1. kernel1, over range {100}: b[i] = increment_by_1(a[i]) with a = ones (int32)
//      -> b == 2 everywhere.
//   2. kernel2, over nd_range {100} / {100}, delegates everything to increment_and_sum_up:
//      every work-item adds 1 to b[i], waits at a device-scope barrier, then work-item 0
//      adds b[1..99] into b[0] -> b[0] == 3 + 99 * 3 == 300, b[1..99] == 3.
// Both checked exactly.
//
// Usage: ndl_example_device_func [device-filter|all]
//   Prints PASS or FAIL per device; exits non-zero on failure.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

constexpr ndl::size_t n = 100;

// A helper callable from a kernel or from another helper.
NDL_KERNEL_FN std::int32_t increment_by_1(std::int32_t a) {
  return a + 1;
}

// A helper that takes the work-item and holds a barrier. Every work-item of the group must
// call it (a barrier reached by only some of them fails the launch on the CPU device).
NDL_KERNEL_FN void increment_and_sum_up(const ndl::nd_item<1>& it, ndl::view<std::int32_t, 1> a) {
  const ndl::size_t i = it.get_global_id(0);

  a[i] += 1;
  ndl::group_barrier(it.get_group(), ndl::memory_scope::device);

  if (i == 0)
    for (ndl::size_t idx = 1; idx < a.size(); ++idx)
      a[0] += a[idx];
}

struct outcome {
  bool ok = false;
  double launch_ms[2] = {0, 0};  // wall time of each synchronous launch
  std::int32_t b0 = 0;           // b[0] at the end
  std::string detail;            // why it failed
};

// Checks b[lo, hi) == want; on a mismatch writes the first one to `detail`.
bool expect(const std::vector<std::int32_t>& b, ndl::size_t lo, ndl::size_t hi, std::int32_t want,
            const char* step, std::string& detail) {
  for (ndl::size_t i = lo; i < hi; ++i)
    if (b[i] != want) {
      detail = std::string(step) + ": b[" + std::to_string(i) + "] = " + std::to_string(b[i]) +
               ", expected " + std::to_string(want);
      return false;
    }
  return true;
}

outcome run(const ndl::device& dev) {
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<std::int32_t>::full({n}, 1, q);
  auto b = ndl::array<std::int32_t>::zeros({n}, q);

  // Calls a helper that returns a value.
  auto kernel1 = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const std::int32_t, 1> x,
                                  ndl::view<std::int32_t, 1> y) {
    const ndl::size_t i = it.get_id(0);
    y[i] = increment_by_1(x[i]);
  };
  // Delegates everything, barrier included, to a helper.
  auto kernel2 = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<std::int32_t, 1> x) {
    increment_and_sum_up(it, x);
  };

  outcome out;
  auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(kernel1, ndl::range{n}, a, b);
  auto t1 = std::chrono::steady_clock::now();
  out.launch_ms[0] = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::vector<std::int32_t> after1 = b.to_host();
  if (!expect(after1, 0, n, 2, "kernel1", out.detail)) return out;

  t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(kernel2, ndl::nd_range{ndl::range{n}, ndl::range{n}}, b);
  t1 = std::chrono::steady_clock::now();
  out.launch_ms[1] = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::vector<std::int32_t> after2 = b.to_host();
  out.b0 = after2[0];
  if (!expect(after2, 0, 1, 300, "kernel2", out.detail)) return out;
  if (!expect(after2, 1, n, 3, "kernel2", out.detail)) return out;
  out.ok = true;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "device_func: no device matches '%s'\n", filter.c_str());
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
      std::printf("%s device_func n=%zu on %s (%s): b[0] = %d, launches %.3f ms and %.3f ms%s%s\n",
                  r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(n), dev.filter_string().c_str(),
                  dev.name().c_str(), static_cast<int>(r.b0), r.launch_ms[0], r.launch_ms[1],
                  r.ok ? "" : ": ", r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "device_func: %s\n", e.what());
    return 2;
  }
}
