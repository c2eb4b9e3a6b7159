// ndl_demo: launches on every available device, printing what ran where and how long it took.
//
// For each device (all of them, or those matching argv[1]) the demo prints the device's
// description, then runs and checks:
//   1. launch latency: synchronous launches of one work-item on the device's default queue;
//   2. a 2-D range kernel (item<2>);
//   3. a 2-D nd-range kernel (nd_item<2>, work-groups of 16 x 16);
//   4. an asynchronous chain on an out-of-order queue: two fills -> kernel -> kernel -> copy
//      back, ordered only by event dependencies;
//   5. Black-Scholes over 1,048,576 options (double precision), checked against the host.
// Launches 2-5 run on queues with profiling enabled: besides the wall time measured on the
// host, each reports from its events how long it waited before starting, how long it ran,
// and when the launcher released its arguments (the host event) after the kernel finished.
//
// Usage: ndl_demo [device-filter|all]
// Exits non-zero if any launch fails or computes a wrong result.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double ns_to_ms(std::uint64_t later, std::uint64_t earlier) {
  return later >= earlier ? static_cast<double>(later - earlier) / 1e6
                          : -static_cast<double>(earlier - later) / 1e6;
}

// Prints the profiling times of one asynchronous launch (its queue has profiling enabled).
void print_profile(const ndl::launch_events& ev) {
  const ndl::event& dev = ev.device_event;
  const ndl::event& host = ev.host_event;
  std::printf(
      "        events: waited %.3f ms before starting, ran %.3f ms, arguments released "
      "%.3f ms after the kernel\n",
      ns_to_ms(dev.profiling_start(), dev.profiling_submit()),
      ns_to_ms(dev.profiling_end(), dev.profiling_start()),
      ns_to_ms(host.profiling_end(), dev.profiling_end()));
}

// Runs one numbered step of the demo, printing its outcome; returns false on failure.
// `step` does the work and returns an empty string on success, else what went wrong.
bool run_step(int number, const char* title, const std::function<std::string()>& step) {
  std::printf("  [%d] %s\n", number, title);
  std::string problem;
  try {
    problem = step();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (problem.empty()) {
    std::printf("        ok\n");
    return true;
  }
  std::printf("FAIL    [%d] %s: %s\n", number, title, problem.c_str());
  return false;
}

// --- 1. Launch latency ---------------------------------------------------------------------

std::string launch_latency(const ndl::device& dev) {
  const ndl::queue q = ndl::queue::default_queue(dev);
  // The kernel only counts how often it ran, so that even these tiny launches are checked.
  auto counter = ndl::array<int>::zeros({1}, q);
  auto count_one = [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> c) { c[0] += 1; };

  ndl::call_kernel(count_one, ndl::range{1}, counter);  // the first launch starts the workers
  constexpr int launches = 200;
  const auto t0 = clock_type::now();
  for (int i = 0; i < launches; ++i)
    ndl::call_kernel(count_one, ndl::range{1}, counter);
  const auto t1 = clock_type::now();
  std::printf("        %d synchronous launches of range{1} on %s: %.2f us per launch + wait\n",
              launches, q.describe().c_str(), 1000.0 * ms_between(t0, t1) / launches);

  const int got = counter.to_host()[0];
  if (got != launches + 1)
    return "the kernel ran " + std::to_string(got) + " times, expected " +
           std::to_string(launches + 1);
  return {};
}

// --- 2. A 2-D range kernel -----------------------------------------------------------------

std::string range_kernel(const ndl::queue& q) {
  constexpr ndl::size_t rows = 1024, cols = 1536;
  auto ids = ndl::array<std::uint32_t, 2>::zeros({rows, cols}, q);
  // Each work-item writes its row-major linear id at its own (i, j).
  auto write_ids = [] NDL_KERNEL_FN(ndl::item<2> it, ndl::view<std::uint32_t, 2> out) {
    out(it.get_id(0), it.get_id(1)) = static_cast<std::uint32_t>(it.get_linear_id());
  };

  const auto t0 = clock_type::now();
  const auto ev = ndl::call_kernel_async(write_ids, ndl::range{rows, cols}, {}, ids);
  ev.device_event.wait();
  const auto t1 = clock_type::now();
  std::printf("        item<2> over range %s on %s (inferred from the array): wall %.3f ms\n",
              ndl::to_string(ndl::range{rows, cols}).c_str(), q.describe().c_str(),
              ms_between(t0, t1));
  ev.host_event.wait();
  print_profile(ev);

  const auto host = ids.to_host();
  for (ndl::size_t k = 0; k < rows * cols; ++k)
    if (host[k] != k)
      return "ids(" + std::to_string(k / cols) + ", " + std::to_string(k % cols) +
             ") = " + std::to_string(host[k]) + ", expected " + std::to_string(k);
  return {};
}

// --- 3. A 2-D nd-range kernel --------------------------------------------------------------

std::string nd_range_kernel(const ndl::queue& q) {
  constexpr ndl::size_t rows = 512, cols = 768, tile = 16;
  const ndl::nd_range space{ndl::range{rows, cols}, ndl::range{tile, tile}};
  auto tags = ndl::array<std::uint32_t, 2>::zeros({rows, cols}, q);
  // Each work-item writes (its group's linear id) * 256 + (its local linear id).
  auto tag_groups = [] NDL_KERNEL_FN(ndl::nd_item<2> it, ndl::view<std::uint32_t, 2> out) {
    const auto group_id = it.get_group().get_group_linear_id();
    const auto tag = group_id * it.get_local_linear_range() + it.get_local_linear_id();
    out(it.get_global_id(0), it.get_global_id(1)) = static_cast<std::uint32_t>(tag);
  };

  const auto t0 = clock_type::now();
  const auto ev = ndl::call_kernel_async(tag_groups, space, {}, tags);
  ev.device_event.wait();
  const auto t1 = clock_type::now();
  std::printf("        nd_item<2> over nd_range %s (%zu work-groups) on %s: wall %.3f ms\n",
              ndl::to_string(space).c_str(),
              static_cast<std::size_t>(space.get_group_range().size()), q.describe().c_str(),
              ms_between(t0, t1));
  ev.host_event.wait();
  print_profile(ev);

  const auto host = tags.to_host();
  for (ndl::size_t i = 0; i < rows; ++i)
    for (ndl::size_t j = 0; j < cols; ++j) {
      const ndl::size_t group = (i / tile) * (cols / tile) + j / tile;
      const ndl::size_t local = (i % tile) * tile + j % tile;
      const ndl::size_t want = group * tile * tile + local;
      if (host[i * cols + j] != want)
        return "tags(" + std::to_string(i) + ", " + std::to_string(j) +
               ") = " + std::to_string(host[i * cols + j]) + ", expected " + std::to_string(want);
    }
  return {};
}

// --- 4. An asynchronous chain --------------------------------------------------------------

std::string async_chain(const ndl::device& dev) {
  // Out of order: only the dependencies below order the commands.
  const ndl::queue q{dev, {.in_order = false, .enable_profiling = true}};
  constexpr ndl::size_t n = 1 << 20;
  auto a = ndl::array<float>(ndl::range{n}, q);
  auto b = ndl::array<float>(ndl::range{n}, q);
  std::vector<float> result(n);

  auto axpy = [] NDL_KERNEL_FN(ndl::item<1> it, float alpha, ndl::view<const float, 1> x,
                               ndl::view<float, 1> y) {
    const ndl::size_t i = it.get_id(0);
    y[i] = alpha * x[i] + y[i];
  };
  auto square = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<float, 1> y) {
    const ndl::size_t i = it.get_id(0);
    y[i] = y[i] * y[i];
  };

  const auto t0 = clock_type::now();
  const ndl::event fill_a = q.fill_async(a.data(), 1.0f, n);
  const ndl::event fill_b = q.fill_async(b.data(), 2.0f, n);
  // b = 3 a + b = 5 once both fills are done; then b = b * b = 25 once axpy is done.
  const auto axpy_ev = ndl::call_kernel_async(axpy, ndl::range{n}, {fill_a, fill_b}, 3.0f, a, b);
  const auto square_ev = ndl::call_kernel_async(square, ndl::range{n}, {axpy_ev.device_event}, b);
  const ndl::event copy =
      q.memcpy_async(result.data(), b.data(), n * sizeof(float), {square_ev.device_event});
  copy.wait();
  const auto t1 = clock_type::now();
  ndl::wait({axpy_ev.host_event, square_ev.host_event});

  std::printf(
      "        fill a, fill b -> axpy -> square -> copy back, %zu floats, on %s: wall "
      "%.3f ms\n",
      static_cast<std::size_t>(n), q.describe().c_str(), ms_between(t0, t1));
  // Times relative to the first submission show which commands overlapped.
  const std::uint64_t origin = fill_a.profiling_submit();
  const auto line = [&](const char* name, const ndl::event& e, const char* after) {
    std::printf("          %-9s submitted %+8.3f ms, started %+8.3f ms, ended %+8.3f ms%s\n", name,
                ns_to_ms(e.profiling_submit(), origin), ns_to_ms(e.profiling_start(), origin),
                ns_to_ms(e.profiling_end(), origin), after);
  };
  line("fill a", fill_a, "");
  line("fill b", fill_b, "");
  line("axpy", axpy_ev.device_event, "  (after both fills)");
  line("square", square_ev.device_event, "  (after axpy's device event)");
  line("copy", copy, "  (after square's device event)");

  // Each command must start only after what it depends on ended.
  if (axpy_ev.device_event.profiling_start() <
      std::max(fill_a.profiling_end(), fill_b.profiling_end()))
    return "axpy started before the fills ended";
  if (square_ev.device_event.profiling_start() < axpy_ev.device_event.profiling_end())
    return "square started before axpy ended";
  if (copy.profiling_start() < square_ev.device_event.profiling_end())
    return "the copy started before square ended";

  for (ndl::size_t i = 0; i < n; ++i)
    if (result[i] != 25.0f)
      return "result[" + std::to_string(i) + "] = " + std::to_string(result[i]) + ", expected 25";
  return {};
}

// --- 5. Black-Scholes ----------------------------------------------------------------------

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

std::string black_scholes(const ndl::queue& q) {
  constexpr ndl::size_t nopt = 1024 * 1024;
  constexpr double rate = 0.1, vol = 0.2;
  // Deterministic inputs spread over numba-dpex's ranges: price and strike in [10, 50),
  // maturity in [1, 2).
  std::vector<double> price_host(nopt), strike_host(nopt), t_host(nopt);
  for (ndl::size_t i = 0; i < nopt; ++i) {
    price_host[i] = 10.0 + 40.0 * static_cast<double>((i * 7919) % nopt) / nopt;
    strike_host[i] = 10.0 + 40.0 * static_cast<double>((i * 104729) % nopt) / nopt;
    t_host[i] = 1.0 + static_cast<double>(i) / nopt;
  }
  auto price = ndl::array<double>::from_host(price_host, q);
  auto strike = ndl::array<double>::from_host(strike_host, q);
  auto t = ndl::array<double>::from_host(t_host, q);
  auto call = ndl::array<double>::zeros({nopt}, q);
  auto put = ndl::array<double>::full({nopt}, -1.0, q);

  // numba-dpex's kernel (see black_scholes.cpp).
  auto kernel = [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<const double, 1> p_v,
                                 ndl::view<const double, 1> s_v, ndl::view<const double, 1> t_v,
                                 double r, double sigma, ndl::view<double, 1> call_v,
                                 ndl::view<double, 1> put_v) {
    const ndl::size_t i = it.get_id(0);
    const double p = p_v[i], s = s_v[i], tt = t_v[i];
    const double a = std::log(p / s);
    const double b = tt * -r;
    const double z = tt * sigma * sigma * 2.0;
    const double c = 0.25 * z;
    const double y = 1.0 / std::sqrt(z);
    const double d1 = 0.5 + 0.5 * std::erf((a - b + c) * y);
    const double d2 = 0.5 + 0.5 * std::erf((a - b - c) * y);
    const double se = std::exp(b) * s;
    const double res = p * d1 - se * d2;
    call_v[i] = res;
    put_v[i] = res - p + se;
  };

  const auto t0 = clock_type::now();
  const auto ev =
      ndl::call_kernel_async(kernel, ndl::range{nopt}, {}, price, strike, t, rate, vol, call, put);
  ev.device_event.wait();
  const auto t1 = clock_type::now();
  std::printf("        %zu options, 5 arrays + 2 scalars, range %s on %s: wall %.3f ms\n",
              static_cast<std::size_t>(nopt), ndl::to_string(ndl::range{nopt}).c_str(),
              q.describe().c_str(), ms_between(t0, t1));
  ev.host_event.wait();
  print_profile(ev);

  // The textbook formulas on the host, within a relative tolerance of 1e-9.
  const auto call_host = call.to_host();
  const auto put_host = put.to_host();
  for (ndl::size_t i = 0; i < nopt; ++i) {
    const double s = price_host[i], k = strike_host[i], tt = t_host[i];
    const double sst = vol * std::sqrt(tt);
    const double d1 = (std::log(s / k) + (rate + 0.5 * vol * vol) * tt) / sst;
    const double d2 = d1 - sst;
    const double disc = k * std::exp(-rate * tt);
    const double want_call = s * normal_cdf(d1) - disc * normal_cdf(d2);
    const double want_put = disc * normal_cdf(-d2) - s * normal_cdf(-d1);
    const auto close = [](double got, double want) {
      return std::abs(got - want) <= 1e-9 * std::max(1.0, std::abs(want));
    };
    if (!close(call_host[i], want_call) || !close(put_host[i], want_put))
      return "option " + std::to_string(i) + ": call " + std::to_string(call_host[i]) + " put " +
             std::to_string(put_host[i]) + ", expected " + std::to_string(want_call) + " and " +
             std::to_string(want_put);
  }
  return {};
}

// --- The demo ------------------------------------------------------------------------------

// Runs every step on `dev`; returns the number of failed steps.
int demo_device(const ndl::device& dev) {
  std::printf("\ndevice %s: %s\n", dev.filter_string().c_str(), dev.name().c_str());
  std::printf(
      "  kind %s, backend %s, %u compute units, work-groups of at most %zu work-items, "
      "%zu KiB local memory\n",
      std::string(ndl::to_string(dev.kind())).c_str(),
      std::string(ndl::to_string(dev.backend())).c_str(), dev.compute_units(),
      static_cast<std::size_t>(dev.max_work_group_size()),
      static_cast<std::size_t>(dev.local_memory_bytes() / 1024));

  const auto start = clock_type::now();
  int failures = 0;
  // An in-order queue with profiling, for the launches that are not about ordering; its
  // arrays bind the launches to it (compute follows data).
  const ndl::queue profiled{dev, {.in_order = true, .enable_profiling = true}};
  failures += !run_step(1, "launch latency", [&] { return launch_latency(dev); });
  failures += !run_step(2, "range kernel", [&] { return range_kernel(profiled); });
  failures += !run_step(3, "nd_range kernel", [&] { return nd_range_kernel(profiled); });
  failures += !run_step(4, "async chain", [&] { return async_chain(dev); });
  failures += !run_step(5, "black-scholes", [&] { return black_scholes(profiled); });
  std::printf("  %s on %s: %d of 5 steps passed in %.1f ms\n", failures ? "FAIL" : "PASS",
              dev.filter_string().c_str(), 5 - failures, ms_between(start, clock_type::now()));
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    std::printf("ndlaunch demo: %zu device(s)", devices.size());
    for (const ndl::device& d : devices)
      std::printf(" %s", d.filter_string().c_str());
    std::printf("; default device %s\n", ndl::device::default_device().filter_string().c_str());
    if (devices.empty()) {
      std::fprintf(stderr, "ndl_demo: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices)
      failures += demo_device(dev);
    std::printf("\n%s\n", failures == 0 ? "all launches passed"
                                        : (std::to_string(failures) + " step(s) failed").c_str());
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ndl_demo: %s\n", e.what());
    return 2;
  }
}
