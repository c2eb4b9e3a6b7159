// atomic_op: the sum of an array by every work-item adding its element to one accumulator
// with an atomic fetch_add.
//
// The C++ counterpart of numba-dpex's examples/kernel/atomic_op.py: a range launch over
// a = arange(n) (int64) in which work-item i does atomic_ref(res[0]).fetch_add(a[i]) with
// the default order and scope (relaxed, device). Beyond numba-dpex, the same work-items also
// fold their element into res[1] with fetch_max and into res[2] with fetch_min (operations
// built on a compare-exchange loop), so all of them contend on three addresses.
//
// Cases, each checked exactly:
//   1. numba-dpex's: n = 1024 -> res[0] == n (n - 1) / 2 == 523776, res[1] == 1023, res[2] == 0.
//   2. n = 1,048,576 (or the second argument) -> n (n - 1) / 2, n - 1, 0.
//
// Usage: ndl_example_atomic_op [device-filter|all] [n]
//   Prints PASS or FAIL per device and case; exits non-zero on failure.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::int64_t sum = 0;  // res[0]
  std::string detail;    // why it failed
};

outcome run(const ndl::device& dev, ndl::size_t n) {
  std::vector<std::int64_t> a_host(n);
  for (ndl::size_t i = 0; i < n; ++i)
    a_host[i] = static_cast<std::int64_t>(i);

  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<std::int64_t>::from_host(a_host, q);
  // The sum starts at 0, the maximum at the lowest value, the minimum at the highest.
  const std::vector<std::int64_t> res_init = {0, std::numeric_limits<std::int64_t>::min(),
                                              std::numeric_limits<std::int64_t>::max()};
  auto res = ndl::array<std::int64_t>::from_host(res_init, q);

  auto atomic_reduction = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const std::int64_t, 1> x,
                                           ndl::view<std::int64_t, 1> acc) {
    const std::int64_t v = x[it.get_id(0)];
    const ndl::atomic_ref<std::int64_t> sum(acc[0]);  // numba-dpex's AtomicRef(res, 0)
    sum.fetch_add(v);
    const ndl::atomic_ref<std::int64_t> maximum(acc[1]);
    maximum.fetch_max(v);
    const ndl::atomic_ref<std::int64_t> minimum(acc[2]);
    minimum.fetch_min(v);
  };

  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(atomic_reduction, ndl::range{n}, a, res);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::vector<std::int64_t> got = res.to_host();
  out.sum = got[0];
  const auto count = static_cast<std::int64_t>(n);
  const std::int64_t want[3] = {count * (count - 1) / 2, count - 1, 0};
  const char* what[3] = {"sum (fetch_add)", "maximum (fetch_max)", "minimum (fetch_min)"};
  for (int k = 0; k < 3; ++k)
    if (got[k] != want[k]) {
      out.detail = std::string(what[k]) + " res[" + std::to_string(k) +
                   "] = " + std::to_string(got[k]) + ", expected " + std::to_string(want[k]);
      return out;
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
      std::fprintf(stderr, "atomic_op: no device matches '%s'\n", filter.c_str());
      return 2;
    }
    if (n == 0) {
      std::fprintf(stderr, "atomic_op: n must be positive\n");
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices)
      for (const ndl::size_t size : {ndl::size_t{1024}, n}) {
        outcome r;
        try {
          r = run(dev, size);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf("%s atomic_op n=%zu on %s (%s): sum %lld, launch %.3f ms%s%s\n",
                    r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(size),
                    dev.filter_string().c_str(), dev.name().c_str(), static_cast<long long>(r.sum),
                    r.launch_ms, r.ok ? "" : ": ", r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atomic_op: %s\n", e.what());
    return 2;
  }
}
