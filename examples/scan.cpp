// scan: the inclusive prefix sum of an array by the Hillis-Steele algorithm, in one work-group.
//
// The C++ counterpart of numba-dpex's examples/kernel/scan.py, corrected. Each work-item
// copies its element into local accessor b; in step d (d = 1, 2, 4, ... < group size) it
// writes c[lid] = b[lid] + b[lid - d] (or b[lid] when lid < d) to the second accessor, then
// c and b are swapped. After the last step b holds the inclusive scan.
//
// numba-dpex's kernel has two bugs, both hidden by its input arange(64):
//   - it adds b[lid - d] only when lid > d, so element lid == d never receives b[0]: the
//     result is wrong whenever a[0] != 0;
//   - it has no barrier after the swap, so a work-item may read b[lid - d] in the next step
//     before its owner has swapped it in (a data race on devices that run the items
//     concurrently).
// Here the test is lid >= d, and a barrier follows the swap.
//
// Cases, each checked exactly against a scan on the host:
//   1. numba-dpex's: a = arange(64) (int64), one group of 64 -> [0, 1, 3, 6, ..., 2016].
//   2. 64 random int64 values in [-1000, 1000] with a[0] != 0, one group of 64.
//   3. 100 random values, one group of 100 (the algorithm needs no power of two).
//   4. random values filling one group of the device's largest work-group size (at most
//      1024).
//
// Usage: ndl_example_scan [device-filter|all]
//   Prints PASS or FAIL per device and case; exits non-zero on failure.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
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

outcome run(const ndl::device& dev, const std::vector<std::int64_t>& a_host) {
  const ndl::size_t n = a_host.size();
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto a = ndl::array<std::int64_t>::from_host(a_host, q);
  // numba-dpex's slm_b and slm_c: one element per work-item.
  const ndl::local_accessor<std::int64_t, 1> slm_b{ndl::range{n}};
  const ndl::local_accessor<std::int64_t, 1> slm_c{ndl::range{n}};

  auto hillis_steele_scan = [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<std::int64_t, 1> x,
                                             ndl::local_accessor<std::int64_t, 1> b,
                                             ndl::local_accessor<std::int64_t, 1> c) {
    const ndl::size_t gid = it.get_global_id(0);
    const ndl::size_t lid = it.get_local_id(0);
    const ndl::size_t ls = it.get_local_range(0);
    const auto g = it.get_group();

    b[lid] = x[gid];
    ndl::group_barrier(g);

    for (ndl::size_t d = 1; d < ls; d *= 2) {
      // After this step b[lid] holds the sum of the (up to) 2d elements ending at lid.
      c[lid] = lid >= d ? b[lid] + b[lid - d] : b[lid];
      ndl::group_barrier(g);  // every c is written (and every b of this step read)

      // Swap c and b (numba-dpex's swap, through private memory).
      const std::int64_t e = c[lid];
      c[lid] = b[lid];
      b[lid] = e;
      ndl::group_barrier(g);  // every b is swapped in before the next step reads b[lid - d]
    }

    // Each work-item reads back the element it swapped in itself: no barrier needed.
    x[gid] = b[lid];
  };

  const ndl::nd_range<1> space{ndl::range{n}, ndl::range{n}};
  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(hillis_steele_scan, space, a, slm_b, slm_c);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // Integer sums: exact.
  const std::vector<std::int64_t> got = a.to_host();
  std::int64_t want = 0;
  for (ndl::size_t i = 0; i < n; ++i) {
    want += a_host[i];
    if (got[i] != want) {
      out.detail = "a[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", expected " +
                   std::to_string(want);
      return out;
    }
  }
  out.ok = true;
  return out;
}

std::vector<std::int64_t> random_input(ndl::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<std::int64_t> dist(-1000, 1000);
  std::vector<std::int64_t> v(n);
  for (std::int64_t& x : v)
    x = dist(gen);
  if (!v.empty() && v[0] == 0) v[0] = 7;  // a[0] != 0 exposes numba-dpex's lid > d
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "scan: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      std::vector<std::int64_t> arange(64);
      for (ndl::size_t i = 0; i < arange.size(); ++i)
        arange[i] = static_cast<std::int64_t>(i);
      const ndl::size_t largest = std::min<ndl::size_t>(dev.max_work_group_size(), 1024);
      const struct {
        std::string what;
        std::vector<std::int64_t> input;
      } cases[] = {
          {"arange", arange},
          {"random", random_input(64, 777)},
          {"random", random_input(100, 778)},
          {"random, largest work-group", random_input(largest, 779)},
      };

      for (const auto& c : cases) {
        outcome r;
        try {
          r = run(dev, c.input);
        } catch (const std::exception& e) {
          r.detail = e.what();  // an ndl::error names the argument and the numbers involved
        }
        std::printf("%s scan n=%zu (%s) in one work-group on %s (%s): launch %.3f ms%s%s\n",
                    r.ok ? "PASS" : "FAIL", c.input.size(), c.what.c_str(),
                    dev.filter_string().c_str(), dev.name().c_str(), r.launch_ms, r.ok ? "" : ": ",
                    r.detail.c_str());
        failures += r.ok ? 0 : 1;
      }
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan: %s\n", e.what());
    return 2;
  }
}
