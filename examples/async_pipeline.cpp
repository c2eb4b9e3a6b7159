// async_pipeline: copies and kernels chained by events on an out-of-order queue.
//
// In the spirit of numba-dpex's examples/kernel/pipelining.py: the input is split into
// batches, and each batch goes through
//
//   copy host -> device (memcpy_async) --.
//                                         +--> kernel A --> kernel B --> copy device -> host
//   fill of the output (fill_async) -----'
//
// with every arrow an event dependency. On an out-of-order queue only these dependencies
// order the commands, so the copy of one batch can overlap the kernels of another.
//
// The two events of an asynchronous launch have different uses:
// - the device event completes when the kernel has finished: chain the next command on it;
// - the host event completes after that, once the launcher has released the arrays it kept
//   alive for the launch. Kernel A takes a per-batch coefficient in a scratch array that
//   the loop drops right after submitting; the launcher keeps it alive until kernel A is
//   done, and once the host events have completed its memory is gone, which the example
//   checks.
//
// Usage: ndl_example_async_pipeline [device-filter|all] [n [batches]]
//   Prints PASS or FAIL per device; exits non-zero on failure.

#include <algorithm>
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
  double pipeline_ms = 0;  // from the first submission until every copy back completed
  std::string detail;      // why it failed
};

// x(i) = i mod 1000: small integers, so that with at most 1000 batches every intermediate
// value below is an integer under 2^24, exact in float on every device (fused multiply-adds
// included): the result can be compared exactly.
float input_value(ndl::size_t i) {
  return static_cast<float>(i % 1000);
}

outcome run(const ndl::device& dev, ndl::size_t n, ndl::size_t batches) {
  outcome out;
  // At most 1000 batches keeps every value below 2^24, where float arithmetic is exact.
  if (n == 0 || batches == 0 || batches > 1000) {
    out.detail = "n must be positive and batches in [1, 1000]";
    return out;
  }
  const ndl::queue q{dev, {.in_order = false}};

  // Host-side buffers in host USM: pinned memory on a GPU, so the copies can run
  // asynchronously; ordinary memory on the CPU device. The arrays free them at scope exit.
  ndl::array<float> in_host(ndl::range{n}, q, ndl::layout::c, ndl::usm_kind::host);
  ndl::array<float> out_host(ndl::range{n}, q, ndl::layout::c, ndl::usm_kind::host);
  for (ndl::size_t i = 0; i < n; ++i)
    in_host.data()[i] = input_value(i);

  // Device buffers for the whole input; each batch works on slices of them.
  ndl::array<float> x(ndl::range{n}, q);
  ndl::array<float> y(ndl::range{n}, q);

  // Copies address the buffers above through raw pointers, which keep nothing alive: if an
  // exception leaves run() early, wait for the queue before the buffers are freed. (The
  // error that matters is the one propagating; the queue's would repeat it.)
  struct drain_on_exit {
    const ndl::queue& queue;
    ~drain_on_exit() {
      try {
        queue.wait();
      } catch (const std::exception&) {
      }
    }
  } drain{q};

  // y += c * x, with the coefficient read from a one-element array.
  auto kernel_a = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const float, 1> xv,
                                   ndl::view<float, 1> yv, ndl::view<const float, 1> coeff) {
    const ndl::size_t i = it.get_id(0);
    yv[i] += coeff[0] * xv[i];
  };
  // y = 2 y - x, which needs kernel A's result.
  auto kernel_b = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const float, 1> xv,
                                   ndl::view<float, 1> yv) {
    const ndl::size_t i = it.get_id(0);
    yv[i] = 2.0f * yv[i] - xv[i];
  };

  std::vector<ndl::event> copies_back;  // device -> host copies: the last command of each batch
  std::vector<ndl::event> host_events;  // the launches' host events
  std::vector<const void*> scratch;     // addresses of the dropped coefficient arrays

  const ndl::size_t batch = (n + batches - 1) / batches;
  const auto t0 = std::chrono::steady_clock::now();
  for (ndl::size_t k = 0; k * batch < n; ++k) {
    const ndl::size_t first = k * batch;
    const ndl::size_t count = std::min(batch, n - first);
    const auto lo = static_cast<ndl::ptrdiff_t>(first);
    const auto hi = static_cast<ndl::ptrdiff_t>(first + count);
    // Slices share x's and y's memory and queue, so launches on them infer the queue q.
    const ndl::array<float> xs = x(ndl::slice(lo, hi));
    const ndl::array<float> ys = y(ndl::slice(lo, hi));
    const ndl::size_t bytes = count * sizeof(float);

    // Independent of each other: on the out-of-order queue they may run concurrently.
    const ndl::event copied_in = q.memcpy_async(xs.data(), in_host.data() + first, bytes);
    const ndl::event filled = q.fill_async(ys.data(), 1.0f, count);

    {
      // The coefficient of batch k is k + 1. The array goes out of scope at the end of this
      // block, probably before kernel A has even started (it waits for the copy): the
      // launcher holds it until the kernel has finished.
      auto coeff = ndl::array<float>::full({1}, static_cast<float>(k + 1), q);
      scratch.push_back(coeff.data());
      const auto [host_a, device_a] =
          ndl::call_kernel_async(kernel_a, ndl::range{count}, {copied_in, filled}, xs, ys, coeff);
      host_events.push_back(host_a);

      // Kernel B waits for kernel A's device event, not its host event: it needs A's
      // result, not the release of A's arguments.
      const auto [host_b, device_b] =
          ndl::call_kernel_async(kernel_b, ndl::range{count}, {device_a}, xs, ys);
      host_events.push_back(host_b);

      copies_back.push_back(q.memcpy_async(out_host.data() + first, ys.data(), bytes, {device_b}));
    }
  }

  // Rethrows the first error of any command in the chains (a failed kernel fails the copy
  // that depends on it with errc::dependency_failed, carrying the original message).
  ndl::wait(copies_back);
  const auto t1 = std::chrono::steady_clock::now();
  out.pipeline_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  // Once the host events have completed, every scratch array has been released; since
  // nothing else holds them, their memory has been freed.
  ndl::wait(host_events);
  for (size_t k = 0; k < scratch.size(); ++k)
    if (ndl::get_pointer_info(scratch[k]).is_usm) {
      out.detail = "the coefficient array of batch " + std::to_string(k) +
                   " is still allocated after the launch's host event completed";
      return out;
    }

  // y = 2 (1 + (k + 1) x) - x = 2 + (2k + 1) x for an element of batch k.
  for (ndl::size_t i = 0; i < n; ++i) {
    const float k = static_cast<float>(i / batch);
    const float want = 2.0f + (2.0f * k + 1.0f) * input_value(i);
    const float got = out_host.data()[i];
    if (got != want) {
      out.detail = "y[" + std::to_string(i) + "] = " + std::to_string(got) + ", expected " +
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
    const ndl::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2'000'000;
    const ndl::size_t batches = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 8;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "async_pipeline: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev, n, batches);
      } catch (const std::exception& e) {
        r.detail = e.what();
      }
      std::printf("%s async_pipeline n=%zu in %zu batches on %s (%s): pipeline %.3f ms%s%s\n",
                  r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(n),
                  static_cast<std::size_t>(batches), dev.filter_string().c_str(),
                  dev.name().c_str(), r.pipeline_ms, r.ok ? "" : ": ", r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "async_pipeline: %s\n", e.what());
    return 2;
  }
}
