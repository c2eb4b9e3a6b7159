// The C++ side of benchmarks/python_launch: host time of ndl::call_kernel_async and the round
// trip of ndl::call_kernel for a trivial kernel (one work-item adding 1 to element 0 of each
// array argument) with 0, 1, 4 and 16 ndl::array<float> arguments of one element, on one
// device. benchmarks/python_launch/bench.py runs the same kernels through the Python package
// and subtracts these figures (DESIGN.md section 3 style: one table, ratios and differences).
//
// Usage: ndl_bench_python_launch_cpp [device-filter] [--launches=N] [--rounds=R] [--json=FILE]
//   device-filter: "cpu", "cuda:0", ... (default: the default device)
//   --launches: launches per timed batch (default 2000); --rounds: timed batches per case
//   (default 7, after one warm-up batch). Prints JSON on stdout (and into FILE with --json);
//   exits 0 with {"skipped": ...} when no device matches the filter.
//
// Compiled by nvcc in CUDA builds (ndl_add_cuda_sources), so the kernels run on CUDA devices.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <ndl/ndl.hpp>
#include <string>
#include <utility>
#include <vector>

#ifndef NDL_BENCH_COMMIT
#define NDL_BENCH_COMMIT "unknown"
#endif

namespace {

using clk = std::chrono::steady_clock;

// CPU time of the calling thread, in ns: robust to other processes' load (as Python's
// time.thread_time_ns, which bench.py reads).
double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The kernel of every case: element 0 of each array argument += 1 (nothing with no array).
// Python's counterpart is the template `touch` in bench.py.
struct touch {
  template <class... V>
  NDL_KERNEL_FN void operator()(ndl::item<1> it, V... v) const {
    ((v[it.get_id(0)] += 1.0f), ...);
    (void)it;
  }
};

constexpr int max_arrays = 16;
using arrays = std::array<ndl::array<float>, max_arrays>;

struct result {
  int n_arrays = 0;
  // Per launch, one value per timed round: wall time of async submission, of the round trip,
  // and the submitting thread's CPU time for the async submission.
  std::vector<double> async_ns, sync_ns, async_cpu_ns;
};

// One case: N array arguments. With none, the queue is named (as bench.py passes queue=);
// with arrays it is inferred from them (compute follows data), as in Python.
template <size_t... I>
result measure(const ndl::queue& q, const arrays& a, int launches, int rounds,
               std::index_sequence<I...>) {
  constexpr int n = static_cast<int>(sizeof...(I));
  const ndl::range<1> one{1};
  auto launch_async = [&] {
    if constexpr (n == 0)
      return ndl::call_kernel_async(q, touch{}, one, {});
    else
      return ndl::call_kernel_async(touch{}, one, {}, a[I]...);
  };
  auto launch_sync = [&] {
    if constexpr (n == 0)
      ndl::call_kernel(q, touch{}, one);
    else
      ndl::call_kernel(touch{}, one, a[I]...);
  };
  result r;
  r.n_arrays = n;
  for (int round = 0; round <= rounds; ++round) {  // round 0 warms up
    const double c0 = thread_cpu_ns();
    auto t0 = clk::now();
    for (int k = 0; k < launches; ++k)
      (void)launch_async();  // both events dropped at once, as in Python
    const double d_async = std::chrono::duration<double, std::nano>(clk::now() - t0).count();
    const double c_async = thread_cpu_ns() - c0;
    q.wait();
    t0 = clk::now();
    for (int k = 0; k < launches; ++k)
      launch_sync();
    const double d_sync = std::chrono::duration<double, std::nano>(clk::now() - t0).count();
    if (round > 0) {
      r.async_ns.push_back(d_async / launches);
      r.sync_ns.push_back(d_sync / launches);
      r.async_cpu_ns.push_back(c_async / launches);
    }
  }
  return r;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_list(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.1f", i ? ", " : "", v[i]);
    out += buf;
  }
  return out + "]";
}

std::string json_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter, json;
  int launches = 2000, rounds = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--json=", 0) == 0)
      json = arg.substr(7);
    else if (arg.rfind("--launches=", 0) == 0)
      launches = std::atoi(arg.c_str() + 11);
    else if (arg.rfind("--rounds=", 0) == 0)
      rounds = std::atoi(arg.c_str() + 9);
    else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [device-filter] [--launches=N] [--rounds=R] [--json=FILE]\n",
                   argv[0]);
      return 2;
    } else
      filter = arg;
  }
  if (launches < 1 || rounds < 1) {
    std::fprintf(stderr, "--launches and --rounds must be positive\n");
    return 2;
  }
  try {
    const auto matching =
        filter.empty() ? std::vector<ndl::device>{ndl::device{}} : ndl::device::all(filter);
    if (matching.empty()) {
      std::printf("{\"skipped\": %s}\n", json_string("no device matches '" + filter + "'").c_str());
      return 0;
    }
    const ndl::device dev = matching.front();
    const ndl::queue q = ndl::queue::default_queue(dev);  // in order, as Python's default
    arrays a;
    for (auto& x : a)
      x = ndl::array<float>::zeros({1}, q);

    std::vector<result> results;
    results.push_back(measure(q, a, launches, rounds, std::make_index_sequence<0>{}));
    results.push_back(measure(q, a, launches, rounds, std::make_index_sequence<1>{}));
    results.push_back(measure(q, a, launches, rounds, std::make_index_sequence<4>{}));
    results.push_back(measure(q, a, launches, rounds, std::make_index_sequence<16>{}));

    // Every launch added 1 to element 0 of its arrays: check the count (the kernels ran).
    const double per_case = double(rounds + 1) * launches * 2;
    for (int i = 0; i < max_arrays; ++i) {
      const int uses = 1 + (i < 4 ? 1 : 0) + (i < 1 ? 1 : 0);  // cases 16, 4 and 1
      const double expect = per_case * uses;
      const float got = a[static_cast<size_t>(i)].to_host()[0];
      // float counts exactly up to 2^24; beyond that only check the order of magnitude.
      const bool ok = expect <= 16777216.0 ? got == static_cast<float>(expect) : got > 1.6e7f;
      if (!ok) {
        std::fprintf(stderr, "array %d holds %g after %g increments: the kernel did not run\n", i,
                     double(got), expect);
        return 1;
      }
    }

    std::string out = "{\n  \"program\": \"ndl_bench_python_launch_cpp\",\n";
    out += "  \"commit\": " + json_string(NDL_BENCH_COMMIT) + ",\n";
    out += "  \"device\": {\"filter\": " + json_string(dev.filter_string()) +
           ", \"name\": " + json_string(dev.name()) +
           ", \"backend\": " + json_string(std::string(ndl::to_string(dev.backend()))) + "},\n";
    out += "  \"launches\": " + std::to_string(launches) +
           ", \"rounds\": " + std::to_string(rounds) + ",\n  \"cases\": [\n";
    for (size_t i = 0; i < results.size(); ++i) {
      const result& r = results[i];
      out += "    {\"n_arrays\": " + std::to_string(r.n_arrays) +
             ", \"async_ns\": " + json_number(median(r.async_ns)) +
             ", \"sync_ns\": " + json_number(median(r.sync_ns)) +
             ", \"async_cpu_ns\": " + json_number(median(r.async_cpu_ns)) +
             ", \"async_ns_rounds\": " + json_list(r.async_ns) +
             ", \"sync_ns_rounds\": " + json_list(r.sync_ns) +
             ", \"async_cpu_ns_rounds\": " + json_list(r.async_cpu_ns) + "}" +
             (i + 1 < results.size() ? ",\n" : "\n");
    }
    out += "  ]\n}\n";
    std::fputs(out.c_str(), stdout);
    if (!json.empty()) {
      FILE* f = std::fopen(json.c_str(), "w");
      if (!f) {
        std::fprintf(stderr, "cannot write %s\n", json.c_str());
        return 1;
      }
      std::fputs(out.c_str(), f);
      std::fclose(f);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ndl_bench_python_launch_cpp: %s\n", e.what());
    return 1;
  }
}
