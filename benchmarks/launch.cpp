// ndl_bench_launch: the CPU device against OpenMP on the same number of threads
// (DESIGN.md section 3).
//
//   (a) empty kernel launch + wait, N = T and N = 2^16    vs  `omp parallel for`, empty body
//   (b) tiny kernel a[i] += 1 on 1024 floats, launch+wait vs  `omp parallel for`
//   (c) triad a = b + s*c on 2^24 and 2^26 floats, as views of ndl::array and as raw float*
//                                                          vs  `omp parallel for simd`
//   (d) 1000 async launches on an in-order queue, then wait, per launch
//                                                          vs  1000 `omp parallel for` regions
//
// T is NDL_CPU_THREADS (default: the hardware threads); OpenMP gets omp_set_num_threads(T).
// Every case runs as several rounds; within a round ndl and OpenMP run back to back (which
// goes first alternates), so noise on a shared machine hits both alike. The summary gives
// per-case medians over the rounds and ndl / OpenMP; the JSON keeps every sample.
//
// Usage: ndl_bench_launch [--json=FILE] [--rounds=N] [--triad-max-log2=K] [--benchmark_...]

#include <benchmark/benchmark.h>
#include <omp.h>
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <ndl/ndl.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Options and machine

struct options {
  std::string json_path = "launch.json";
  int rounds = 11;
  int triad_max_log2 = 26;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr,
               "ndl_bench_launch: %s\n"
               "usage: ndl_bench_launch [--json=FILE] [--rounds=N] [--triad-max-log2=K (20..28)] "
               "[--benchmark_filter=REGEX ...]\n",
               msg.c_str());
  std::exit(2);
}

int parse_int(const std::string& text, int lo, int hi, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi)
    usage_error(std::string(what) + "='" + text + "' is not a number from " + std::to_string(lo) +
                " to " + std::to_string(hi));
  return static_cast<int>(v);
}

// Takes our own flags out of argv before Google Benchmark sees the rest.
options parse_options(int& argc, char** argv) {
  options o;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--json=", 0) == 0) {
      o.json_path = a.substr(7);
      if (o.json_path.empty()) usage_error("--json= needs a file name");
    } else if (a.rfind("--rounds=", 0) == 0) {
      o.rounds = parse_int(a.substr(9), 1, 1000, "--rounds");
    } else if (a.rfind("--triad-max-log2=", 0) == 0) {
      o.triad_max_log2 = parse_int(a.substr(17), 20, 28, "--triad-max-log2");
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return o;
}

// The thread count both runtimes use: NDL_CPU_THREADS, else the hardware threads (which is
// also ndl's default). Exported before ndl starts so that both agree.
unsigned thread_count() {
  unsigned t = std::thread::hardware_concurrency();
  if (t == 0) t = 1;
  if (const char* env = std::getenv("NDL_CPU_THREADS"); env && *env)
    return static_cast<unsigned>(parse_int(env, 1, 4096, "NDL_CPU_THREADS"));
  setenv("NDL_CPU_THREADS", std::to_string(t).c_str(), 1);
  return t;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string name = line.substr(colon + 1);
    name.erase(0, name.find_first_not_of(" \t"));
    return name;
  }
  return "unknown";
}

std::uint64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// CPUs kept busy by other processes: /proc/stat sampled over `seconds` while this process
// idles (the load average would also count this program's own spinning threads).
double busy_cpus(double seconds) {
  auto sample = [](std::uint64_t& idle, std::uint64_t& total) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    in >> cpu;
    idle = total = 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8 && in >> v; ++i) {
      total += v;
      if (i == 3 || i == 4) idle += v;  // idle, iowait
    }
  };
  std::uint64_t idle0, total0, idle1, total1;
  sample(idle0, total0);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  sample(idle1, total1);
  if (total1 <= total0) return 0;
  const double busy =
      1.0 - static_cast<double>(idle1 - idle0) / static_cast<double>(total1 - total0);
  return busy * std::thread::hardware_concurrency();
}

std::string commit() {
  if (const char* env = std::getenv("NDL_COMMIT"); env && *env) return env;
#ifdef NDL_BENCH_COMMIT
  return NDL_BENCH_COMMIT;
#else
  return "unknown";
#endif
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Cases

enum class metric { latency_us, bandwidth_gbs };

struct impl_def {
  impl_def(std::string n, std::function<void(benchmark::State&)> f)
      : name(std::move(n)), run(std::move(f)) {}
  std::string name;  // "ndl", "ndl-view", "ndl-ptr", "omp"
  std::function<void(benchmark::State&)> run;
  std::vector<double> samples;  // one per round: µs per operation or GB/s
};

struct case_def {
  case_def(std::string id_, std::string label_, metric kind_)
      : id(std::move(id_)), label(std::move(label_)), kind(kind_) {}
  std::string id;     // stable key in the JSON
  std::string label;  // row label of the table
  metric kind;
  double ops_per_iteration = 1;    // latency: operations timed per benchmark iteration
  double bytes_per_iteration = 0;  // bandwidth
  double budget = 0;               // ndl/omp ratio budget; 0 = for information
  double min_time = 0.03;          // seconds per sample
  std::vector<impl_def> impls;     // ndl variants first, the OpenMP baseline last

  const impl_def& baseline() const { return impls.back(); }
};

// Keeps the compiler from dropping what a region writes. The empty cases write nothing, and
// GCC never elides a `#pragma omp parallel` region (it becomes a call to GOMP_parallel).
template <class T>
void keep(T* p) {
  benchmark::DoNotOptimize(p);
  benchmark::ClobberMemory();
}

float* omp_alloc(std::size_t n, float value) {
  auto* p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  if (!p) usage_error("out of memory for the OpenMP arrays (try --triad-max-log2=24)");
  const auto m = static_cast<std::int64_t>(n);
  // First touch by the OpenMP team, static schedule: pages land where the triad reads them.
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < m; ++i)
    p[i] = value;
  return p;
}

struct empty_kernel {
  void operator()(ndl::item<1>) const {}
};
struct increment_kernel {
  void operator()(ndl::item<1> it, ndl::view<float, 1> a) const { a[it.get_id(0)] += 1.0f; }
};
struct triad_view_kernel {
  void operator()(ndl::item<1> it, ndl::view<float, 1> a, ndl::view<float, 1> b,
                  ndl::view<float, 1> c, float s) const {
    const ndl::size_t i = it.get_id(0);
    a[i] = b[i] + s * c[i];
  }
};
struct triad_ptr_kernel {
  void operator()(ndl::item<1> it, float* a, const float* b, const float* c, float s) const {
    const ndl::size_t i = it.get_id(0);
    a[i] = b[i] + s * c[i];
  }
};

void omp_empty(std::int64_t n) {
#pragma omp parallel for
  for (std::int64_t i = 0; i < n; ++i) {
  }
}

void omp_increment(float* a, std::int64_t n) {
#pragma omp parallel for
  for (std::int64_t i = 0; i < n; ++i)
    a[i] += 1.0f;
}

void omp_triad(float* a, const float* b, const float* c, float s, std::int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    a[i] = b[i] + s * c[i];
}

constexpr float triad_scalar = 3.0f;  // a = 1 + 3 * 2 = 7, exact in float
constexpr int async_launches = 1000;

// Everything the cases use; built once, before any timing.
struct workload {
  ndl::device cpu{"cpu"};
  ndl::queue q = ndl::queue::default_queue(cpu);
  ndl::queue async_q{cpu, ndl::queue_options{.in_order = true}};
  ndl::array<float> tiny = ndl::array<float>::zeros({1024}, q);
  float* omp_tiny = omp_alloc(1024, 0.0f);

  struct triad_set {
    std::size_t n;
    ndl::array<float> a, b, c;  // first touched by ndl's fill on the pool
    float* oa;                  // first touched by an OpenMP static loop
    float* ob;
    float* oc;
  };
  std::vector<triad_set> triads;

  ~workload() {
    std::free(omp_tiny);
    for (auto& t : triads) {
      std::free(t.oa);
      std::free(t.ob);
      std::free(t.oc);
    }
  }

  void add_triad(std::size_t n) {
    triads.push_back({n, ndl::array<float>::zeros({n}, q), ndl::array<float>::full({n}, 1.0f, q),
                      ndl::array<float>::full({n}, 2.0f, q), omp_alloc(n, 0.0f), omp_alloc(n, 1.0f),
                      omp_alloc(n, 2.0f)});
  }
};

// Runs every kernel once and checks it against the OpenMP version before anything is timed.
void validate(workload& w) {
  bool ok = true;
  auto check = [&](bool cond, const std::string& what) {
    if (!cond) {
      std::fprintf(stderr, "validation failed: %s\n", what.c_str());
      ok = false;
    }
  };
  for (auto& t : w.triads) {
    const auto n = static_cast<std::int64_t>(t.n);
    ndl::call_kernel(w.q, triad_view_kernel{}, ndl::range{t.n}, t.a, t.b, t.c, triad_scalar);
    std::vector<float> host = t.a.to_host();
    check(std::all_of(host.begin(), host.end(), [](float v) { return v == 7.0f; }),
          "triad (views) n=" + std::to_string(t.n));
    w.q.fill(t.a.data(), 0.0f, t.n);
    ndl::call_kernel(w.q, triad_ptr_kernel{}, ndl::range{t.n}, t.a.data(), t.b.data(), t.c.data(),
                     triad_scalar);
    host = t.a.to_host();
    check(std::all_of(host.begin(), host.end(), [](float v) { return v == 7.0f; }),
          "triad (float*) n=" + std::to_string(t.n));
    omp_triad(t.oa, t.ob, t.oc, triad_scalar, n);
    check(std::all_of(t.oa, t.oa + n, [](float v) { return v == 7.0f; }),
          "triad (OpenMP) n=" + std::to_string(t.n));
  }
  ndl::call_kernel(w.q, increment_kernel{}, ndl::range{1024}, w.tiny);
  const std::vector<float> tiny = w.tiny.to_host();
  check(std::all_of(tiny.begin(), tiny.end(), [](float v) { return v == 1.0f; }), "tiny kernel");
  ndl::call_kernel(w.q, empty_kernel{}, ndl::range{1 << 16});
  if (!ok) std::exit(1);
}

std::vector<case_def> make_cases(workload& w, unsigned threads) {
  std::vector<case_def> cases;
  const ndl::size_t n_t = threads;
  const auto n_t64 = static_cast<std::int64_t>(threads);
  constexpr ndl::size_t big = 1 << 16;

  for (const ndl::size_t n : {n_t, big}) {
    const auto n64 = static_cast<std::int64_t>(n);
    const std::string tag = n == n_t ? "N=T" : "N=65536";
    case_def c{"empty_launch/" + tag, "empty launch+wait, " + tag, metric::latency_us};
    c.budget = 1.0;
    c.impls.emplace_back("ndl", [&w, n](benchmark::State& st) {
      for (auto _ : st)
        ndl::call_kernel(w.q, empty_kernel{}, ndl::range{n});
    });
    c.impls.emplace_back("omp", [n64](benchmark::State& st) {
      for (auto _ : st) {
        omp_empty(n64);
        benchmark::ClobberMemory();
      }
    });
    cases.push_back(std::move(c));
  }

  {
    case_def c{"tiny_kernel/N=1024", "tiny a[i]+=1, N=1024", metric::latency_us};
    c.impls.emplace_back("ndl", [&w](benchmark::State& st) {
      for (auto _ : st)
        ndl::call_kernel(w.q, increment_kernel{}, ndl::range{1024}, w.tiny);
    });
    c.impls.emplace_back("omp", [&w](benchmark::State& st) {
      for (auto _ : st) {
        omp_increment(w.omp_tiny, 1024);
        keep(w.omp_tiny);
      }
    });
    cases.push_back(std::move(c));
  }

  for (std::size_t k = 0; k < w.triads.size(); ++k) {
    const std::size_t n = w.triads[k].n;
    int log2n = 0;
    while ((std::size_t{1} << log2n) < n)
      ++log2n;
    const std::string tag = "n=2^" + std::to_string(log2n);
    case_def c{"triad/" + tag, "triad " + tag, metric::bandwidth_gbs};
    c.bytes_per_iteration = 3.0 * 4.0 * static_cast<double>(n);  // 3 arrays of floats
    c.budget = 0.95;
    c.min_time = 0.15;
    const double bytes = c.bytes_per_iteration;
    auto gbs = [bytes](benchmark::State& st) {
      st.counters["GB/s"] =
          benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    };
    c.impls.emplace_back("ndl-view", [&w, k, gbs](benchmark::State& st) {
      auto& t = w.triads[k];
      for (auto _ : st)
        ndl::call_kernel(w.q, triad_view_kernel{}, ndl::range{t.n}, t.a, t.b, t.c, triad_scalar);
      gbs(st);
    });
    c.impls.emplace_back("ndl-ptr", [&w, k, gbs](benchmark::State& st) {
      auto& t = w.triads[k];
      float* a = t.a.data();
      const float* b = t.b.data();
      const float* cc = t.c.data();
      for (auto _ : st)
        ndl::call_kernel(w.q, triad_ptr_kernel{}, ndl::range{t.n}, a, b, cc, triad_scalar);
      gbs(st);
    });
    c.impls.emplace_back("omp", [&w, k, gbs](benchmark::State& st) {
      auto& t = w.triads[k];
      const auto m = static_cast<std::int64_t>(t.n);
      for (auto _ : st) {
        omp_triad(t.oa, t.ob, t.oc, triad_scalar, m);
        keep(t.oa);
      }
      gbs(st);
    });
    cases.push_back(std::move(c));
  }

  for (const ndl::size_t n : {n_t, big}) {
    const auto n64 = n == n_t ? n_t64 : static_cast<std::int64_t>(big);
    const std::string tag = n == n_t ? "N=T" : "N=65536";
    case_def c{"async_launch/K=1000," + tag, "async x1000 per launch, " + tag, metric::latency_us};
    c.ops_per_iteration = async_launches;
    c.min_time = 0.05;
    c.impls.emplace_back("ndl", [&w, n](benchmark::State& st) {
      for (auto _ : st) {
        for (int k = 0; k < async_launches; ++k)
          ndl::call_kernel_async(w.async_q, empty_kernel{}, ndl::range{n}, {});
        w.async_q.wait();
      }
    });
    c.impls.emplace_back("omp", [n64](benchmark::State& st) {
      for (auto _ : st) {
        for (int k = 0; k < async_launches; ++k)
          omp_empty(n64);
        benchmark::ClobberMemory();
      }
    });
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Collecting results

struct slot {
  case_def* c;
  impl_def* impl;
  int round;
};

// Prints one compact line per run and files its sample under its case and implementation.
class collecting_reporter : public benchmark::BenchmarkReporter {
 public:
  collecting_reporter(std::map<std::string, slot> slots, int rounds)
      : slots_(std::move(slots)), rounds_(rounds) {}

  bool ReportContext(const Context& context) override {
    PrintBasicContext(&GetErrorStream(), context);
    return true;
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      const auto it = slots_.find(run.run_name.function_name);
      if (it == slots_.end()) continue;
      const slot& s = it->second;
      if (run.error_occurred) {
        std::printf("  [%d/%d] %-34s %-8s ERROR %s\n", s.round + 1, rounds_, s.c->label.c_str(),
                    s.impl->name.c_str(), run.error_message.c_str());
        failed_ = true;
        continue;
      }
      const double per_iteration = run.real_accumulated_time / static_cast<double>(run.iterations);
      double value;
      const char* unit;
      if (s.c->kind == metric::bandwidth_gbs) {
        value = s.c->bytes_per_iteration / per_iteration * 1e-9;
        unit = "GB/s";
      } else {
        value = per_iteration / s.c->ops_per_iteration * 1e6;
        unit = "us";
      }
      s.impl->samples.push_back(value);
      std::printf("  [%d/%d] %-34s %-8s %10.3f %-4s (%" PRId64 " iterations)\n", s.round + 1,
                  rounds_, s.c->label.c_str(), s.impl->name.c_str(), value, unit,
                  static_cast<std::int64_t>(run.iterations));
      std::fflush(stdout);
    }
  }

  bool failed() const { return failed_; }

 private:
  std::map<std::string, slot> slots_;
  int rounds_;
  bool failed_ = false;
};

// The q-quantile (0 <= q <= 1) by linear interpolation; median = quantile(v, 0.5).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double median(std::vector<double> v) {
  return quantile(std::move(v), 0.5);
}

struct ratio_stats {
  double of_medians = 0;  // median(ndl) / median(omp), or its inverse for latency
  // Per-round ratios (the two samples of one round): median, quartiles, extremes.
  double paired_median = 0, paired_q1 = 0, paired_q3 = 0, paired_min = 0, paired_max = 0;
  bool within_budget = true;
};

// ndl / OpenMP: time ratio for latencies (lower is better), throughput ratio for bandwidth
// (higher is better). Paired ratios compare the two samples of the same round.
ratio_stats ratios(const case_def& c, const impl_def& ndl_impl) {
  ratio_stats r;
  const impl_def& base = c.baseline();
  const double mb = median(base.samples);
  if (mb > 0) r.of_medians = median(ndl_impl.samples) / mb;
  std::vector<double> paired;
  for (std::size_t i = 0; i < ndl_impl.samples.size() && i < base.samples.size(); ++i)
    if (base.samples[i] > 0) paired.push_back(ndl_impl.samples[i] / base.samples[i]);
  if (!paired.empty()) {
    r.paired_median = median(paired);
    r.paired_q1 = quantile(paired, 0.25);
    r.paired_q3 = quantile(paired, 0.75);
    r.paired_min = *std::min_element(paired.begin(), paired.end());
    r.paired_max = *std::max_element(paired.begin(), paired.end());
  }
  if (c.budget > 0)
    r.within_budget =
        c.kind == metric::latency_us ? r.of_medians <= c.budget : r.of_medians >= c.budget;
  return r;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct run_info {
  std::string commit, date, cpu, kernel, compiler, ndl_device;
  unsigned threads = 0, hardware_threads = 0, affinity_cpus = 0, ndl_compute_units = 0;
  int omp_max_threads = 0, rounds = 0;
  double load_before[3] = {0, 0, 0}, load_after[3] = {0, 0, 0};
  double busy_cpus_before = 0;  // CPUs busy with other work just before timing
  double seconds = 0;
};

void print_table(const std::vector<case_def>& cases, const run_info& info) {
  std::printf("\nndlaunch launch benchmark: commit %s, %s, T = %u threads, medians of %d rounds\n",
              info.commit.c_str(), info.cpu.c_str(), info.threads, info.rounds);
  std::printf("%-34s %-5s %10s %10s %11s %15s %7s  %s\n", "case", "unit", "ndl", "OpenMP",
              "ndl/OpenMP", "paired q1..q3", "budget", "verdict");
  for (const case_def& c : cases) {
    for (std::size_t i = 0; i + 1 < c.impls.size(); ++i) {
      const impl_def& impl = c.impls[i];
      std::string label = c.label;
      if (c.impls.size() > 2) label += " (" + impl.name + ")";
      if (impl.samples.empty() || c.baseline().samples.empty()) {
        std::printf("%-34s (not run)\n", label.c_str());
        continue;
      }
      const ratio_stats r = ratios(c, impl);
      char range[40], budget[16];
      std::snprintf(range, sizeof range, "%.2f..%.2f", r.paired_q1, r.paired_q3);
      if (c.budget > 0)
        std::snprintf(budget, sizeof budget, "%s %.2f",
                      c.kind == metric::latency_us ? "<=" : ">=", c.budget);
      else
        std::snprintf(budget, sizeof budget, "-");
      std::printf("%-34s %-5s %10.3f %10.3f %11.3f %15s %7s  %s\n", label.c_str(),
                  c.kind == metric::latency_us ? "us" : "GB/s", median(impl.samples),
                  median(c.baseline().samples), r.of_medians, range, budget,
                  c.budget <= 0 ? "info" : (r.within_budget ? "ok" : "MISSED"));
    }
  }
  std::printf(
      "ndl/OpenMP is the ratio of the medians: time ratio on us rows (lower is better), "
      "throughput ratio on GB/s rows (higher is better); paired q1..q3: quartiles of the "
      "per-round ratios. GB/s counts 3 arrays x 4 bytes x n per triad.\n"
      "CPUs busy with other work before timing: %.1f; load average before/after: %.2f / %.2f\n",
      info.busy_cpus_before, info.load_before[0], info.load_after[0]);
}

void write_json(const std::string& path, const std::vector<case_def>& cases, const run_info& info) {
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"launch\",\n";
  j << "  \"commit\": \"" << json_escape(info.commit) << "\",\n";
  j << "  \"date_utc\": \"" << info.date << "\",\n";
  j << "  \"machine\": {\"cpu_model\": \"" << json_escape(info.cpu)
    << "\", \"hardware_threads\": " << info.hardware_threads
    << ", \"affinity_cpus\": " << info.affinity_cpus << ", \"kernel\": \""
    << json_escape(info.kernel) << "\", \"compiler\": \"" << json_escape(info.compiler)
    << "\", \"openmp\": " << _OPENMP << ", \"busy_cpus_before\": " << num(info.busy_cpus_before)
    << ", \"load_average_before\": [" << num(info.load_before[0]) << ", "
    << num(info.load_before[1]) << ", " << num(info.load_before[2])
    << "], \"load_average_after\": [" << num(info.load_after[0]) << ", " << num(info.load_after[1])
    << ", " << num(info.load_after[2]) << "]},\n";
  j << "  \"threads\": " << info.threads << ",\n";
  j << "  \"ndl_device\": {\"name\": \"" << json_escape(info.ndl_device)
    << "\", \"compute_units\": " << info.ndl_compute_units << "},\n";
  j << "  \"omp_max_threads\": " << info.omp_max_threads << ",\n";
  j << "  \"rounds\": " << info.rounds << ",\n";
  j << "  \"seconds\": " << num(info.seconds) << ",\n";
  j << "  \"cases\": [";
  bool first_case = true;
  for (const case_def& c : cases) {
    const bool lat = c.kind == metric::latency_us;
    j << (first_case ? "\n" : ",\n") << "    {\"id\": \"" << json_escape(c.id)
      << "\", \"label\": \"" << json_escape(c.label) << "\", \"unit\": \"" << (lat ? "us" : "GB/s")
      << "\", \"better\": \"" << (lat ? "lower" : "higher") << "\"";
    if (lat) j << ", \"ops_per_iteration\": " << num(c.ops_per_iteration);
    if (!lat) j << ", \"bytes_per_iteration\": " << num(c.bytes_per_iteration);
    if (c.budget > 0)
      j << ", \"budget\": {\"ratio\": " << num(c.budget) << ", \"op\": \"" << (lat ? "<=" : ">=")
        << "\"}";
    else
      j << ", \"budget\": null";
    j << ",\n     \"results\": {";
    bool first_impl = true;
    for (const impl_def& impl : c.impls) {
      j << (first_impl ? "" : ", ") << "\"" << json_escape(impl.name)
        << "\": {\"median\": " << num(median(impl.samples));
      if (!impl.samples.empty())
        j << ", \"min\": " << num(*std::min_element(impl.samples.begin(), impl.samples.end()))
          << ", \"max\": " << num(*std::max_element(impl.samples.begin(), impl.samples.end()));
      j << ", \"samples\": [";
      for (std::size_t i = 0; i < impl.samples.size(); ++i)
        j << (i ? ", " : "") << num(impl.samples[i]);
      j << "]}";
      first_impl = false;
    }
    j << "},\n     \"ratios\": {";
    for (std::size_t i = 0; i + 1 < c.impls.size(); ++i) {
      const ratio_stats r = ratios(c, c.impls[i]);
      j << (i ? ", " : "") << "\"" << json_escape(c.impls[i].name)
        << "/omp\": {\"ratio_of_medians\": " << num(r.of_medians)
        << ", \"paired_median\": " << num(r.paired_median)
        << ", \"paired_q1\": " << num(r.paired_q1) << ", \"paired_q3\": " << num(r.paired_q3)
        << ", \"paired_min\": " << num(r.paired_min) << ", \"paired_max\": " << num(r.paired_max);
      if (c.budget > 0) j << ", \"within_budget\": " << (r.within_budget ? "true" : "false");
      j << "}";
    }
    j << "}}";
    first_case = false;
  }
  j << "\n  ]\n}\n";
  std::ofstream out(path);
  out << j.str();
  if (!out) {
    std::fprintf(stderr, "ndl_bench_launch: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::printf("JSON written to %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_options(argc, argv);
  const unsigned threads = thread_count();  // before ndl starts: it reads NDL_CPU_THREADS
  omp_set_dynamic(0);
  omp_set_num_threads(static_cast<int>(threads));

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  run_info info;
  info.commit = commit();
  info.date = utc_now();
  info.cpu = cpu_model();
  info.threads = threads;
  info.hardware_threads = std::thread::hardware_concurrency();
  if (cpu_set_t set; sched_getaffinity(0, sizeof set, &set) == 0)
    info.affinity_cpus = static_cast<unsigned>(CPU_COUNT(&set));
  info.omp_max_threads = omp_get_max_threads();
  info.rounds = opt.rounds;
  info.compiler = __VERSION__;
  if (utsname u{}; uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;

  workload w;
  info.ndl_device = w.cpu.name();
  info.ndl_compute_units = w.cpu.compute_units();
  std::printf(
      "ndl_bench_launch: commit %s; %s; T = %u threads (ndl %s: %u compute units, "
      "OpenMP max threads %d); %d rounds\n",
      info.commit.c_str(), info.cpu.c_str(), threads, w.cpu.filter_string().c_str(),
      info.ndl_compute_units, info.omp_max_threads, opt.rounds);
  if (info.ndl_compute_units != threads || info.omp_max_threads != static_cast<int>(threads)) {
    std::fprintf(stderr, "ndl_bench_launch: thread counts disagree; the comparison is unfair\n");
    return 1;
  }
  if (info.affinity_cpus != 0 && threads > info.affinity_cpus)
    std::printf(
        "note: T = %u exceeds the %u CPUs this process may run on; spinning threads of "
        "both runtimes will fight over them\n",
        threads, info.affinity_cpus);
  if (threads == 1)
    std::printf(
        "note: with NDL_CPU_THREADS=1 ndl still starts one worker, so it may run on two "
        "threads against OpenMP's one\n");

  // Triad sizes: 2^24 (or 2^K when K is smaller), then every 4x larger one up to 2^K while
  // memory allows (the ndl and OpenMP sets at once, with half the available memory to spare).
  const int first_lg = std::min(24, opt.triad_max_log2);
  for (int lg = first_lg; lg <= opt.triad_max_log2; lg += 2) {
    const std::uint64_t need = std::uint64_t{6} * sizeof(float) << lg;
    if (lg > first_lg && 2 * need > mem_available_bytes()) {
      std::printf("skipping triad n=2^%d: needs %.1f GiB, %.1f GiB available\n", lg,
                  static_cast<double>(need) / (1 << 30),
                  static_cast<double>(mem_available_bytes()) / (1 << 30));
      break;
    }
    w.add_triad(std::size_t{1} << lg);
  }
  validate(w);

  std::vector<case_def> cases = make_cases(w, threads);
  std::map<std::string, slot> slots;
  for (int r = 0; r < opt.rounds; ++r) {
    for (case_def& c : cases) {
      std::vector<impl_def*> order;
      for (impl_def& impl : c.impls)
        order.push_back(&impl);
      if (r % 2 == 1) std::reverse(order.begin(), order.end());
      for (impl_def* impl : order) {
        const std::string name = c.id + "/" + impl->name + "/round:" + std::to_string(r);
        slots.emplace(name, slot{&c, impl, r});
        benchmark::RegisterBenchmark(name.c_str(), [impl](benchmark::State& st) { impl->run(st); })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(c.min_time)
            // Lets the other runtime's idle threads stop spinning before timing starts.
            ->MinWarmUpTime(0.01);
      }
    }
  }

  // Measured after validation, once both runtimes' idle threads have stopped spinning.
  info.busy_cpus_before = busy_cpus(0.3);
  if (info.busy_cpus_before > 0.5)
    std::printf("note: other processes kept %.1f CPUs busy just before timing: expect noise\n",
                info.busy_cpus_before);

  collecting_reporter reporter(std::move(slots), opt.rounds);
  getloadavg(info.load_before, 3);
  const auto t0 = std::chrono::steady_clock::now();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  getloadavg(info.load_after, 3);
  benchmark::Shutdown();

  print_table(cases, info);
  write_json(opt.json_path, cases, info);
  return reporter.failed() ? 1 : 0;
}
