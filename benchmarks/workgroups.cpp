// ndl_bench_workgroups: nd-range kernels on the CPU device (DESIGN.md section 3).
//
//   1. Tiled matmul, n x n floats (default 1024), 16 x 16 work-groups, two local_accessor
//      tiles and two group_barriers per tile, against the same tiled algorithm as plain C++
//      loops (OpenMP over tile rows) and as OpenCL C run by PoCL.
//      Budget: ndl <= 2 x the loops, and faster than PoCL.
//   2. Tree reduction of 2^24 floats, work-groups of 256, a barrier before each halving step,
//      one partial sum per group, then the host adds the partials; against the same per-block
//      tree as loops and in OpenCL C (PoCL); `omp parallel for simd reduction(+)` for
//      reference. Budget: ndl <= 2 x the loops, and faster than PoCL.
//   3. Barrier-free kernels (triad, and a 32-term polynomial per element) launched over
//      nd_range{{n}, {256}} against the same kernel over range{n}.
//      Budget: nd-range throughput >= 0.95 x range.
//   4. The cost of a barrier: a kernel with k = 0, 1, 4, 16 barriers and almost no work over
//      nd_range{{2^20}, {256}}: ns per work-item per barrier (PoCL's for reference).
//
// Every contender runs on T threads: NDL_CPU_THREADS (default: the hardware threads) for
// ndl, omp_set_num_threads(T) for the loops, POCL_MAX_PTHREAD_COUNT=T for PoCL. Every case
// runs as several rounds; within a round the contenders run back to back, in an order that
// alternates between rounds, so noise on a shared machine hits all alike. The table shows
// medians over the rounds; the JSON keeps every sample. Results are checked against each
// other (and against the host) before anything is timed.
//
// Usage: ndl_bench_workgroups [--json=FILE] [--rounds=N] [--matmul-n=N] [--reduce-log2=K]
//                             [--no-pocl] [--benchmark_...]

#include <benchmark/benchmark.h>
#include <omp.h>
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <ndl/ndl.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(NDL_BENCH_HAVE_OPENCL)
#include <CL/cl.h>

#include "workgroups_kernels_cl.hpp"
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Sizes shared by every contender

constexpr ndl::size_t tile = 16;                // matmul work-groups are tile x tile
constexpr ndl::size_t reduce_group = 256;       // tree reduction work-group
constexpr ndl::size_t elementwise_group = 256;  // barrier-free nd-range work-group
constexpr ndl::size_t barrier_group = 256;      // barrier-cost work-group
constexpr int barrier_log2 = 20;                // barrier-cost work-items: 2^20
constexpr int elementwise_log2 = 24;            // triad and polynomial: 2^24 floats
constexpr int barrier_counts[] = {0, 1, 4, 16};

// ---------------------------------------------------------------------------------------------
// Options and machine

struct options {
  std::string json_path = "workgroups.json";
  int rounds = 7;
  int matmul_n = 1024;
  int reduce_log2 = 24;
  bool pocl = true;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr,
               "ndl_bench_workgroups: %s\n"
               "usage: ndl_bench_workgroups [--json=FILE] [--rounds=N] [--matmul-n=N "
               "(multiple of 16)] [--reduce-log2=K (10..28)] [--no-pocl] "
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
    } else if (a.rfind("--matmul-n=", 0) == 0) {
      o.matmul_n = parse_int(a.substr(11), 16, 8192, "--matmul-n");
      if (o.matmul_n % static_cast<int>(tile) != 0)
        usage_error("--matmul-n must be a multiple of 16");
    } else if (a.rfind("--reduce-log2=", 0) == 0) {
      o.reduce_log2 = parse_int(a.substr(14), 10, 28, "--reduce-log2");
    } else if (a == "--no-pocl") {
      o.pocl = false;
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return o;
}

// The thread count every contender uses: NDL_CPU_THREADS, else the hardware threads (which
// is also ndl's default). Exported before ndl starts so that both agree.
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

// 64-byte aligned host memory for the loop contenders.
struct aligned_floats {
  explicit aligned_floats(std::size_t n)
      : size(n),
        data(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))) {
    if (!data) usage_error("out of memory for " + std::to_string(n) + " floats");
  }
  aligned_floats(const aligned_floats&) = delete;
  aligned_floats& operator=(const aligned_floats&) = delete;
  ~aligned_floats() { std::free(data); }
  std::size_t size;
  float* data;
};

// ---------------------------------------------------------------------------------------------
// 1. Tiled matmul

// C = A * B (n x n, row-major, n a multiple of tile) over nd_range{{n, n}, {tile, tile}}.
struct matmul_kernel {
  void operator()(ndl::nd_item<2> it, const float* a, const float* b, float* c, ndl::size_t n,
                  ndl::local_accessor<float, 2> a_tile,
                  ndl::local_accessor<float, 2> b_tile) const {
    const ndl::size_t row = it.get_global_id(0), col = it.get_global_id(1);
    const ndl::size_t lr = it.get_local_id(0), lc = it.get_local_id(1);
    const auto g = it.get_group();
    float acc = 0.0f;
    for (ndl::size_t k0 = 0; k0 < n; k0 += tile) {
      a_tile(lr, lc) = a[row * n + k0 + lc];
      b_tile(lr, lc) = b[(k0 + lr) * n + col];
      ndl::group_barrier(g);  // the tiles are complete
      for (ndl::size_t k = 0; k < tile; ++k)
        acc += a_tile(lr, k) * b_tile(k, lc);
      ndl::group_barrier(g);  // all have read the tiles before the next ones are loaded
    }
    c[row * n + col] = acc;
  }
};

// The same algorithm as plain loops: for each tile of C (one OpenMP iteration per tile row),
// copy the A and B tiles into local buffers, then accumulate. The (i, k, j) order adds the
// products into each C element in the kernel's order, so the results agree bit for bit.
void loop_matmul(const float* a, const float* b, float* c, std::size_t n) {
  const auto tiles = static_cast<std::int64_t>(n / tile);
#pragma omp parallel for schedule(static)
  for (std::int64_t ti = 0; ti < tiles; ++ti) {
    const std::size_t bi = static_cast<std::size_t>(ti) * tile;
    alignas(64) float a_tile[tile][tile];
    alignas(64) float b_tile[tile][tile];
    alignas(64) float acc[tile][tile];
    for (std::size_t bj = 0; bj < n; bj += tile) {
      for (auto& r : acc)
        for (float& v : r)
          v = 0.0f;
      for (std::size_t k0 = 0; k0 < n; k0 += tile) {
        for (std::size_t i = 0; i < tile; ++i)
          for (std::size_t j = 0; j < tile; ++j) {
            a_tile[i][j] = a[(bi + i) * n + k0 + j];
            b_tile[i][j] = b[(k0 + i) * n + bj + j];
          }
        for (std::size_t i = 0; i < tile; ++i)
          for (std::size_t k = 0; k < tile; ++k) {
            const float aik = a_tile[i][k];
            for (std::size_t j = 0; j < tile; ++j)
              acc[i][j] += aik * b_tile[k][j];
          }
      }
      for (std::size_t i = 0; i < tile; ++i)
        for (std::size_t j = 0; j < tile; ++j)
          c[(bi + i) * n + bj + j] = acc[i][j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Tree reduction

// One partial sum per work-group (numba-dpex's sum_reduction_tree).
struct reduce_kernel {
  void operator()(ndl::nd_item<1> it, const float* x, float* partial,
                  ndl::local_accessor<float, 1> loc) const {
    const ndl::size_t lid = it.get_local_id(0);
    const auto g = it.get_group();
    loc[lid] = x[it.get_global_id(0)];
    for (ndl::size_t stride = it.get_local_range(0) / 2; stride > 0; stride >>= 1) {
      ndl::group_barrier(g);  // the previous step's (or the copy's) writes are visible
      if (lid < stride) loc[lid] += loc[lid + stride];
    }
    if (lid == 0) partial[g.get_group_id(0)] = loc[0];
  }
};

// The same per-block tree as plain loops, one OpenMP iteration per block.
void loop_reduce_tree(const float* x, float* partial, std::size_t n) {
  const auto groups = static_cast<std::int64_t>(n / reduce_group);
#pragma omp parallel for schedule(static)
  for (std::int64_t g = 0; g < groups; ++g) {
    alignas(64) float loc[reduce_group];
    const float* block = x + static_cast<std::size_t>(g) * reduce_group;
    for (std::size_t l = 0; l < reduce_group; ++l)
      loc[l] = block[l];
    for (std::size_t stride = reduce_group / 2; stride > 0; stride >>= 1)
      for (std::size_t l = 0; l < stride; ++l)
        loc[l] += loc[l + stride];
    partial[g] = loc[0];
  }
}

// The final step every tree contender shares: the host adds the groups' partial sums.
double sum_partials(const float* partial, std::size_t groups) {
  double s = 0;
  for (std::size_t g = 0; g < groups; ++g)
    s += partial[g];
  return s;
}

// Reference: OpenMP's own reduction (a different algorithm: per-thread vector accumulators).
float omp_reduce(const float* x, std::size_t n) {
  const auto m = static_cast<std::int64_t>(n);
  float s = 0.0f;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
  for (std::int64_t i = 0; i < m; ++i)
    s += x[i];
  return s;
}

// ---------------------------------------------------------------------------------------------
// 3. Barrier-free kernels, one body for range and nd-range launches

template <class Item>
NDL_ALWAYS_INLINE ndl::size_t global_id(const Item& it) {
  if constexpr (requires { it.get_global_id(0); })
    return it.get_global_id(0);
  else
    return it.get_id(0);
}

struct triad_kernel {
  template <class Item>
  void operator()(const Item& it, float* a, const float* b, const float* c, float s) const {
    const ndl::size_t i = global_id(it);
    a[i] = b[i] + s * c[i];
  }
};

struct triad_view_kernel {
  template <class Item>
  void operator()(const Item& it, ndl::view<float, 1> a, ndl::view<float, 1> b,
                  ndl::view<float, 1> c, float s) const {
    const ndl::size_t i = global_id(it);
    a[i] = b[i] + s * c[i];
  }
};

constexpr int poly_terms = 32;
constexpr std::array<float, poly_terms> poly_coeffs = [] {
  std::array<float, poly_terms> c{};
  for (int d = 0; d < poly_terms; ++d)
    c[static_cast<std::size_t>(d)] = 1.0f / static_cast<float>(d + 1);
  return c;
}();

// 32 multiply-adds per element (Horner): compute-bound, vectorisable across work-items.
struct poly_kernel {
  template <class Item>
  void operator()(const Item& it, float* out, const float* in) const {
    const ndl::size_t i = global_id(it);
    const float x = in[i];
    float y = 0.0f;
    // Unrolled, so that the work-item loop around the kernel is what the compiler vectorises.
#pragma GCC unroll 32
    for (int d = poly_terms - 1; d >= 0; --d)
      y = y * x + poly_coeffs[static_cast<std::size_t>(d)];
    out[i] = y;
  }
};

// ---------------------------------------------------------------------------------------------
// 4. The cost of a barrier: K barriers and almost no work; out[i] = local id + K.

template <int K>
struct barrier_kernel {
  void operator()(ndl::nd_item<1> it, float* out) const {
    const auto g = it.get_group();
    float v = static_cast<float>(it.get_local_id(0));
    for (int r = 0; r < K; ++r) {
      ndl::group_barrier(g);
      v += 1.0f;
    }
    out[it.get_global_id(0)] = v;
  }
};

// ---------------------------------------------------------------------------------------------
// PoCL

struct pocl_info {
  bool available = false;
  std::string reason;  // why not, when not available
  std::string platform, platform_version, device, driver_version;
  unsigned compute_units = 0;
  std::string max_pthread_count;  // POCL_MAX_PTHREAD_COUNT as exported
  double build_seconds = 0;       // clBuildProgram (PoCL caches kernels across runs)
};

#if defined(NDL_BENCH_HAVE_OPENCL)

void cl_check(cl_int rc, const char* what) {
  if (rc != CL_SUCCESS)
    throw std::runtime_error(std::string(what) + " failed with OpenCL error " + std::to_string(rc));
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  std::size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetPlatformInfo(p, what, n, s.data(), nullptr);
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::string device_string(cl_device_id d, cl_device_info what) {
  std::size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetDeviceInfo(d, what, n, s.data(), nullptr);
  s.resize(std::strlen(s.c_str()));
  return s;
}

// PoCL's CPU device with the benchmark's kernels built; every call blocks until done.
class pocl_runtime {
 public:
  // Finds PoCL and builds the kernels; on failure `info().available` is false with a reason.
  pocl_runtime() {
    try {
      init();
      info_.available = true;
    } catch (const std::exception& e) {
      info_.reason = e.what();
      release();
    }
  }
  pocl_runtime(const pocl_runtime&) = delete;
  pocl_runtime& operator=(const pocl_runtime&) = delete;
  ~pocl_runtime() { release(); }

  pocl_info& info() { return info_; }

  cl_mem buffer(std::size_t bytes, const void* init = nullptr) {
    cl_int rc = CL_SUCCESS;
    const cl_mem_flags flags = CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0);
    cl_mem m = clCreateBuffer(ctx_, flags, bytes, const_cast<void*>(init), &rc);
    cl_check(rc, "clCreateBuffer");
    buffers_.push_back(m);
    return m;
  }

  void read(cl_mem m, void* dst, std::size_t bytes) {
    cl_check(clEnqueueReadBuffer(queue_, m, CL_TRUE, 0, bytes, dst, 0, nullptr, nullptr),
             "clEnqueueReadBuffer");
  }

  void set_matmul(cl_mem a, cl_mem b, cl_mem c, std::size_t n) {
    const auto nn = static_cast<cl_uint>(n);
    cl_check(clSetKernelArg(matmul_, 0, sizeof(cl_mem), &a), "clSetKernelArg");
    cl_check(clSetKernelArg(matmul_, 1, sizeof(cl_mem), &b), "clSetKernelArg");
    cl_check(clSetKernelArg(matmul_, 2, sizeof(cl_mem), &c), "clSetKernelArg");
    cl_check(clSetKernelArg(matmul_, 3, sizeof(cl_uint), &nn), "clSetKernelArg");
    matmul_n_ = n;
  }
  void matmul() {
    const std::size_t global[2] = {matmul_n_, matmul_n_}, local[2] = {tile, tile};
    run(matmul_, 2, global, local);
  }

  void set_reduce(cl_mem x, cl_mem partial, std::size_t n) {
    cl_check(clSetKernelArg(reduce_, 0, sizeof(cl_mem), &x), "clSetKernelArg");
    cl_check(clSetKernelArg(reduce_, 1, sizeof(cl_mem), &partial), "clSetKernelArg");
    cl_check(clSetKernelArg(reduce_, 2, reduce_group * sizeof(float), nullptr), "clSetKernelArg");
    reduce_n_ = n;
  }
  void reduce() {
    const std::size_t global[1] = {reduce_n_}, local[1] = {reduce_group};
    run(reduce_, 1, global, local);
  }

  void barriers(cl_mem out, std::size_t n, int k) {
    cl_check(clSetKernelArg(barriers_, 0, sizeof(cl_mem), &out), "clSetKernelArg");
    cl_check(clSetKernelArg(barriers_, 1, sizeof(int), &k), "clSetKernelArg");
    const std::size_t global[1] = {n}, local[1] = {barrier_group};
    run(barriers_, 1, global, local);
  }

 private:
  void init() {
    cl_uint count = 0;
    cl_check(clGetPlatformIDs(0, nullptr, &count), "clGetPlatformIDs (is an ICD installed?)");
    std::vector<cl_platform_id> platforms(count);
    cl_check(clGetPlatformIDs(count, platforms.data(), nullptr), "clGetPlatformIDs");
    cl_platform_id pocl = nullptr;
    std::string seen;
    for (cl_platform_id p : platforms) {
      const std::string name = platform_string(p, CL_PLATFORM_NAME);
      seen += (seen.empty() ? "" : ", ") + name;
      if (name.find("Portable Computing Language") != std::string::npos) pocl = p;
    }
    if (!pocl)
      throw std::runtime_error("no PoCL platform among the OpenCL platforms [" + seen +
                               "] (Debian: pocl-opencl-icd)");
    info_.platform = platform_string(pocl, CL_PLATFORM_NAME);
    info_.platform_version = platform_string(pocl, CL_PLATFORM_VERSION);
    cl_check(clGetDeviceIDs(pocl, CL_DEVICE_TYPE_CPU, 1, &device_, nullptr), "clGetDeviceIDs(CPU)");
    info_.device = device_string(device_, CL_DEVICE_NAME);
    info_.driver_version = device_string(device_, CL_DRIVER_VERSION);
    cl_uint cu = 0;
    clGetDeviceInfo(device_, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, nullptr);
    info_.compute_units = cu;
    cl_int rc = CL_SUCCESS;
    ctx_ = clCreateContext(nullptr, 1, &device_, nullptr, nullptr, &rc);
    cl_check(rc, "clCreateContext");
    queue_ = clCreateCommandQueue(ctx_, device_, 0, &rc);
    cl_check(rc, "clCreateCommandQueue");
    const char* src = workgroups_kernels_cl;
    program_ = clCreateProgramWithSource(ctx_, 1, &src, nullptr, &rc);
    cl_check(rc, "clCreateProgramWithSource");
    const auto t0 = std::chrono::steady_clock::now();
    rc = clBuildProgram(program_, 1, &device_, "-cl-std=CL1.2", nullptr, nullptr);
    info_.build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != CL_SUCCESS) {
      std::size_t n = 0;
      clGetProgramBuildInfo(program_, device_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
      std::string log(n, '\0');
      clGetProgramBuildInfo(program_, device_, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
      throw std::runtime_error("clBuildProgram failed (" + std::to_string(rc) + "): " + log);
    }
    matmul_ = clCreateKernel(program_, "matmul_tiled", &rc);
    cl_check(rc, "clCreateKernel(matmul_tiled)");
    reduce_ = clCreateKernel(program_, "reduce_tree", &rc);
    cl_check(rc, "clCreateKernel(reduce_tree)");
    barriers_ = clCreateKernel(program_, "barriers", &rc);
    cl_check(rc, "clCreateKernel(barriers)");
  }

  void run(cl_kernel k, cl_uint dims, const std::size_t* global, const std::size_t* local) {
    cl_check(clEnqueueNDRangeKernel(queue_, k, dims, nullptr, global, local, 0, nullptr, nullptr),
             "clEnqueueNDRangeKernel");
    cl_check(clFinish(queue_), "clFinish");
  }

  void release() noexcept {
    for (cl_mem m : buffers_)
      clReleaseMemObject(m);
    buffers_.clear();
    for (cl_kernel* k : {&matmul_, &reduce_, &barriers_})
      if (*k) clReleaseKernel(std::exchange(*k, nullptr));
    if (program_) clReleaseProgram(std::exchange(program_, nullptr));
    if (queue_) clReleaseCommandQueue(std::exchange(queue_, nullptr));
    if (ctx_) clReleaseContext(std::exchange(ctx_, nullptr));
  }

  pocl_info info_;
  cl_device_id device_ = nullptr;
  cl_context ctx_ = nullptr;
  cl_command_queue queue_ = nullptr;
  cl_program program_ = nullptr;
  cl_kernel matmul_ = nullptr, reduce_ = nullptr, barriers_ = nullptr;
  std::vector<cl_mem> buffers_;
  std::size_t matmul_n_ = 0, reduce_n_ = 0;
};

#endif  // NDL_BENCH_HAVE_OPENCL

// ---------------------------------------------------------------------------------------------
// The data every case uses; built once, before any timing.

// Small integers (and multiples of 1/8) keep every sum exact, so the contenders must agree
// bit for bit whatever order they add in.
float small_int(std::uint64_t& state, int lo, int hi) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  const auto span = static_cast<std::uint64_t>(hi - lo + 1);
  return static_cast<float>(lo + static_cast<int>((state >> 33) % span));
}

struct workload {
  workload(const options& o, unsigned threads)
      : matmul_n(static_cast<std::size_t>(o.matmul_n)),
        reduce_n(std::size_t{1} << o.reduce_log2),
        elementwise_n(std::size_t{1} << elementwise_log2),
        barrier_n(std::size_t{1} << barrier_log2),
        loop_a(matmul_n * matmul_n),
        loop_b(matmul_n * matmul_n),
        loop_c(matmul_n * matmul_n),
        loop_x(reduce_n),
        loop_partial(reduce_n / reduce_group) {
    const std::size_t nn = matmul_n * matmul_n;
    std::uint64_t state = 12345;
    a_host.resize(nn);
    b_host.resize(nn);
    for (float& v : a_host)
      v = small_int(state, -8, 8);
    for (float& v : b_host)
      v = small_int(state, -8, 8);
    x_host.resize(reduce_n);
    for (float& v : x_host)
      v = small_int(state, 0, 8) / 8.0f;
    std::copy(a_host.begin(), a_host.end(), loop_a.data);
    std::copy(b_host.begin(), b_host.end(), loop_b.data);
    std::copy(x_host.begin(), x_host.end(), loop_x.data);

    a = ndl::array<float>::from_host(a_host, q);
    b = ndl::array<float>::from_host(b_host, q);
    c = ndl::array<float>::zeros({nn}, q);
    x = ndl::array<float>::from_host(x_host, q);
    partial = ndl::array<float>::zeros({reduce_n / reduce_group}, q);
    ea = ndl::array<float>::zeros({elementwise_n}, q);
    eb = ndl::array<float>::full({elementwise_n}, 1.0f, q);
    ec = ndl::array<float>::full({elementwise_n}, 2.0f, q);
    std::vector<float> ramp(elementwise_n);
    for (std::size_t i = 0; i < elementwise_n; ++i)
      ramp[i] = static_cast<float>(i % 1024) / 1024.0f;
    pin = ndl::array<float>::from_host(ramp, q);
    pout = ndl::array<float>::zeros({elementwise_n}, q);
    bout = ndl::array<float>::zeros({barrier_n}, q);

#if defined(NDL_BENCH_HAVE_OPENCL)
    if (o.pocl) {
      pocl = std::make_unique<pocl_runtime>();
      if (pocl->info().available) {
        try {
          cl_a = pocl->buffer(nn * sizeof(float), a_host.data());
          cl_b = pocl->buffer(nn * sizeof(float), b_host.data());
          cl_c = pocl->buffer(nn * sizeof(float));
          cl_x = pocl->buffer(reduce_n * sizeof(float), x_host.data());
          cl_partial = pocl->buffer(reduce_n / reduce_group * sizeof(float));
          cl_bout = pocl->buffer(barrier_n * sizeof(float));
          pocl->set_matmul(cl_a, cl_b, cl_c, matmul_n);
          pocl->set_reduce(cl_x, cl_partial, reduce_n);
        } catch (const std::exception& e) {
          pocl->info().available = false;
          pocl->info().reason = e.what();
        }
      }
      info_pocl = pocl->info();
    } else {
      info_pocl.reason = "disabled with --no-pocl";
    }
#else
    info_pocl.reason =
        "built without OpenCL (install ocl-icd-opencl-dev opencl-headers and "
        "reconfigure)";
    (void)o;
#endif
    if (const char* env = std::getenv("POCL_MAX_PTHREAD_COUNT")) info_pocl.max_pthread_count = env;
    (void)threads;
  }

  bool has_pocl() const {
    return info_pocl.available;
  }

  std::size_t matmul_n, reduce_n, elementwise_n, barrier_n;
  std::vector<float> a_host, b_host, x_host;

  ndl::device cpu{"cpu"};
  ndl::queue q = ndl::queue::default_queue(cpu);
  ndl::array<float> a, b, c, x, partial, ea, eb, ec, pin, pout, bout;
  const ndl::local_accessor<float, 2> a_tile{ndl::range{tile, tile}};
  const ndl::local_accessor<float, 2> b_tile{ndl::range{tile, tile}};
  const ndl::local_accessor<float, 1> reduce_loc{ndl::range{reduce_group}};

  aligned_floats loop_a, loop_b, loop_c, loop_x, loop_partial;
  std::vector<float> pocl_partial;
  // Seconds of the slowest contender's single run during validation, per case; cases whose
  // operations take seconds get fewer rounds (see slow_rounds).
  double matmul_slowest_s = 0, reduce_slowest_s = 0;

  pocl_info info_pocl;
#if defined(NDL_BENCH_HAVE_OPENCL)
  std::unique_ptr<pocl_runtime> pocl;
  cl_mem cl_a = nullptr, cl_b = nullptr, cl_c = nullptr, cl_x = nullptr, cl_partial = nullptr,
         cl_bout = nullptr;
#endif

  // One operation of each contender (what a timed iteration runs).
  void ndl_matmul() {
    ndl::call_kernel(q, matmul_kernel{},
                     ndl::nd_range{ndl::range{matmul_n, matmul_n}, ndl::range{tile, tile}},
                     static_cast<const float*>(a.data()), static_cast<const float*>(b.data()),
                     c.data(), matmul_n, a_tile, b_tile);
  }
  void loops_matmul() {
    loop_matmul(loop_a.data, loop_b.data, loop_c.data, matmul_n);
  }

  double ndl_reduce() {
    ndl::call_kernel(q, reduce_kernel{},
                     ndl::nd_range{ndl::range{reduce_n}, ndl::range{reduce_group}},
                     static_cast<const float*>(x.data()), partial.data(), reduce_loc);
    return sum_partials(partial.data(), reduce_n / reduce_group);  // CPU device: host memory
  }
  double loops_reduce() {
    loop_reduce_tree(loop_x.data, loop_partial.data, reduce_n);
    return sum_partials(loop_partial.data, reduce_n / reduce_group);
  }
  double omp_reduce_ref() {
    return omp_reduce(loop_x.data, reduce_n);
  }

#if defined(NDL_BENCH_HAVE_OPENCL)
  void pocl_matmul() {
    pocl->matmul();
  }
  double pocl_reduce() {
    pocl->reduce();
    pocl_partial.resize(reduce_n / reduce_group);
    pocl->read(cl_partial, pocl_partial.data(), pocl_partial.size() * sizeof(float));
    return sum_partials(pocl_partial.data(), pocl_partial.size());
  }
  void pocl_barriers(int k) {
    pocl->barriers(cl_bout, barrier_n, k);
  }
#endif

  template <int K>
  void ndl_barriers() {
    ndl::call_kernel(q, barrier_kernel<K>{},
                     ndl::nd_range{ndl::range{barrier_n}, ndl::range{barrier_group}}, bout.data());
  }
  void ndl_barriers(int k) {
    switch (k) {
      case 0:
        return ndl_barriers<0>();
      case 1:
        return ndl_barriers<1>();
      case 4:
        return ndl_barriers<4>();
      case 16:
        return ndl_barriers<16>();
      default:
        usage_error("no barrier kernel for k=" + std::to_string(k));
    }
  }

  template <class Kernel, class... Args>
  void elementwise(bool nd, const Kernel& k, const Args&... args) {
    if (nd)
      ndl::call_kernel(
          q, k, ndl::nd_range{ndl::range{elementwise_n}, ndl::range{elementwise_group}}, args...);
    else
      ndl::call_kernel(q, k, ndl::range{elementwise_n}, args...);
  }
  void triad(bool nd) {
    elementwise(nd, triad_kernel{}, ea.data(), static_cast<const float*>(eb.data()),
                static_cast<const float*>(ec.data()), 3.0f);
  }
  void triad_views(bool nd) {
    elementwise(nd, triad_view_kernel{}, ea, eb, ec, 3.0f);
  }
  void poly(bool nd) {
    elementwise(nd, poly_kernel{}, pout.data(), static_cast<const float*>(pin.data()));
  }
};

// ---------------------------------------------------------------------------------------------
// Validation: every contender once, checked against the others and the host.

struct checker {
  bool ok = true;
  void operator()(bool cond, const std::string& what) {
    std::printf("  %-6s %s\n", cond ? "ok" : "FAILED", what.c_str());
    if (!cond) ok = false;
  }
};

// Index of the first element where two results differ, or n.
std::size_t first_difference(const float* x, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) return i;
  return n;
}

std::string difference_text(const char* what, const float* x, const float* y, std::size_t n) {
  const std::size_t i = first_difference(x, y, n);
  if (i == n) return what;
  return std::string(what) + ": element " + std::to_string(i) + " is " + std::to_string(x[i]) +
         " vs " + std::to_string(y[i]);
}

void validate(workload& w) {
  std::printf("validation (every contender once; integer-valued inputs make every sum exact):\n");
  checker check;
  const std::size_t n = w.matmul_n, nn = n * n;

  // 1. matmul: all three agree exactly, and match a naive host product at sampled elements.
  auto seconds = [](auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  w.matmul_slowest_s =
      std::max(seconds([&] { w.loops_matmul(); }), seconds([&] { w.ndl_matmul(); }));
  const std::vector<float> ndl_c = w.c.to_host();
  check(first_difference(ndl_c.data(), w.loop_c.data, nn) == nn,
        difference_text("matmul: ndl == loops (all elements, bitwise)", ndl_c.data(), w.loop_c.data,
                        nn));
  {
    std::uint64_t state = 99;
    std::size_t bad = 0;
    constexpr int samples = 4096;
    for (int s = 0; s < samples; ++s) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t i = (state >> 20) % n, j = (state >> 40) % n;
      double want = 0;
      for (std::size_t k = 0; k < n; ++k)
        want += double{w.a_host[i * n + k]} * double{w.b_host[k * n + j]};
      if (double{w.loop_c.data[i * n + j]} != want) ++bad;
    }
    check(bad == 0, "matmul: loops == naive host product at " + std::to_string(samples) +
                        " sampled elements (" + std::to_string(bad) + " differ)");
  }
#if defined(NDL_BENCH_HAVE_OPENCL)
  if (w.has_pocl()) {
    std::vector<float> pocl_c(nn);
    w.matmul_slowest_s = std::max(w.matmul_slowest_s, seconds([&] { w.pocl_matmul(); }));
    w.pocl->read(w.cl_c, pocl_c.data(), nn * sizeof(float));
    check(first_difference(pocl_c.data(), w.loop_c.data, nn) == nn,
          difference_text("matmul: PoCL == loops (all elements, bitwise)", pocl_c.data(),
                          w.loop_c.data, nn));
  }
#endif

  // 2. reduction: the three trees agree per group; totals match the exact host sum.
  const std::size_t groups = w.reduce_n / reduce_group;
  double exact = 0;
  for (float v : w.x_host)
    exact += v;
  double loop_total = 0, ndl_total = 0;
  w.reduce_slowest_s = std::max(seconds([&] { loop_total = w.loops_reduce(); }),
                                seconds([&] { ndl_total = w.ndl_reduce(); }));
  check(first_difference(w.partial.data(), w.loop_partial.data, groups) == groups,
        difference_text("reduction: ndl partials == loop partials (bitwise)", w.partial.data(),
                        w.loop_partial.data, groups));
  check(ndl_total == exact && loop_total == exact,
        "reduction: ndl total " + std::to_string(ndl_total) + ", loops " +
            std::to_string(loop_total) + ", exact " + std::to_string(exact));
  const double omp_total = w.omp_reduce_ref();
  check(std::abs(omp_total - exact) <= 1e-6 * exact,
        "reduction: omp reduction(+) " + std::to_string(omp_total) + " within 1e-6 of exact");
#if defined(NDL_BENCH_HAVE_OPENCL)
  if (w.has_pocl()) {
    double pocl_total = 0;
    w.reduce_slowest_s =
        std::max(w.reduce_slowest_s, seconds([&] { pocl_total = w.pocl_reduce(); }));
    check(first_difference(w.pocl_partial.data(), w.loop_partial.data, groups) == groups,
          difference_text("reduction: PoCL partials == loop partials (bitwise)",
                          w.pocl_partial.data(), w.loop_partial.data, groups));
    check(pocl_total == exact, "reduction: PoCL total " + std::to_string(pocl_total));
  }
#endif

  // 3. barrier-free: nd-range and range write the same values.
  for (bool nd : {false, true}) {
    w.q.fill(w.ea.data(), 0.0f, w.elementwise_n);
    w.triad(nd);
    const std::vector<float> t = w.ea.to_host();
    check(std::all_of(t.begin(), t.end(), [](float v) { return v == 7.0f; }),
          std::string("triad (pointers) over ") + (nd ? "nd_range" : "range") + " == 7");
    w.q.fill(w.ea.data(), 0.0f, w.elementwise_n);
    w.triad_views(nd);
    const std::vector<float> tv = w.ea.to_host();
    check(std::all_of(tv.begin(), tv.end(), [](float v) { return v == 7.0f; }),
          std::string("triad (views) over ") + (nd ? "nd_range" : "range") + " == 7");
  }
  w.poly(false);
  const std::vector<float> poly_range = w.pout.to_host();
  w.q.fill(w.pout.data(), 0.0f, w.elementwise_n);
  w.poly(true);
  const std::vector<float> poly_nd = w.pout.to_host();
  check(first_difference(poly_range.data(), poly_nd.data(), w.elementwise_n) == w.elementwise_n,
        difference_text("polynomial: nd_range == range (bitwise)", poly_nd.data(),
                        poly_range.data(), w.elementwise_n));

  // 4. barriers: out[i] = local id + k.
  for (int k : barrier_counts) {
    w.ndl_barriers(k);
    const std::vector<float> o = w.bout.to_host();
    bool good = true;
    for (std::size_t i = 0; i < o.size() && good; ++i)
      good = o[i] == static_cast<float>(i % barrier_group) + static_cast<float>(k);
    check(good, "barriers: ndl k=" + std::to_string(k) + " writes local id + k");
#if defined(NDL_BENCH_HAVE_OPENCL)
    if (w.has_pocl()) {
      w.pocl_barriers(k);
      std::vector<float> p(w.barrier_n);
      w.pocl->read(w.cl_bout, p.data(), p.size() * sizeof(float));
      check(first_difference(p.data(), o.data(), p.size()) == p.size(),
            "barriers: PoCL k=" + std::to_string(k) + " == ndl");
    }
#endif
  }
  if (!check.ok) {
    std::fprintf(stderr, "ndl_bench_workgroups: validation failed; nothing timed\n");
    std::exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

struct impl_def {
  impl_def(std::string n, std::string l, std::function<void()> f)
      : name(std::move(n)), label(std::move(l)), op(std::move(f)) {}
  std::string name;   // key in the JSON
  std::string label;  // row of the table
  std::function<void()> op;
  std::vector<double> samples;  // ms per operation, one per round
};

// A budget: ratio `num` against `den`. Time ratios (num / den, lower is better) for "<=" and
// "<"; throughput ratios (den time / num time, higher is better) for ">=".
struct comparison {
  std::string num, den;
  std::string op;  // "<=", "<", ">=", or "" for information
  double budget = 0;
  std::string source;  // where the budget comes from
};

struct case_def {
  case_def(std::string id_, std::string label_) : id(std::move(id_)), label(std::move(label_)) {}
  std::string id, label;
  double work = 0;        // per operation, in rate_unit x seconds (for example GFLOP)
  std::string rate_unit;  // "GFLOP/s", "GB/s", "Mitem/s"
  double min_time = 0.1;  // seconds per sample
  int rounds = 0;         // rounds of this case (fewer than --rounds when its operations are slow)
  std::vector<impl_def> impls;
  std::vector<comparison> comparisons;

  const impl_def* find(const std::string& name) const {
    for (const impl_def& i : impls)
      if (i.name == name) return &i;
    return nullptr;
  }
};

// A case whose slowest contender needs more than a second per operation runs at most this many
// rounds, which keeps a full run within a few minutes (its samples are single long runs, which
// vary less).
constexpr int slow_rounds = 3;

std::vector<case_def> make_cases(workload& w, int rounds) {
  std::vector<case_def> cases;
  [[maybe_unused]] const bool pocl = w.has_pocl();
  const std::string design = "DESIGN.md 3: CPU nd-range with barriers";

  {
    const std::string n = std::to_string(w.matmul_n);
    case_def c{"matmul/n=" + n,
               "tiled matmul " + n + "x" + n + " float, 16x16 tiles, 2 barriers per tile"};
    c.work = 2.0 * std::pow(static_cast<double>(w.matmul_n), 3) * 1e-9;
    c.rate_unit = "GFLOP/s";
    c.impls.emplace_back("ndl", "ndl nd_range, local_accessor tiles", [&w] { w.ndl_matmul(); });
    c.impls.emplace_back("loops", "loops (OpenMP over tile rows)", [&w] { w.loops_matmul(); });
#if defined(NDL_BENCH_HAVE_OPENCL)
    if (pocl) c.impls.emplace_back("pocl", "PoCL, OpenCL C", [&w] { w.pocl_matmul(); });
#endif
    c.comparisons.push_back({"ndl", "loops", "<=", 2.0, design});
    c.comparisons.push_back({"ndl", "pocl", "<", 1.0, design});
    c.rounds = w.matmul_slowest_s > 1.0 ? std::min(rounds, slow_rounds) : rounds;
    cases.push_back(std::move(c));
  }
  {
    int lg = 0;
    while ((std::size_t{1} << lg) < w.reduce_n)
      ++lg;
    case_def c{"reduce_tree/n=2^" + std::to_string(lg),
               "tree reduction 2^" + std::to_string(lg) +
                   " float, groups of 256, 8 barriers, host adds partials"};
    c.work = 4.0 * static_cast<double>(w.reduce_n) * 1e-9;
    c.rate_unit = "GB/s";
    c.impls.emplace_back("ndl", "ndl nd_range, local_accessor",
                         [&w] { benchmark::DoNotOptimize(w.ndl_reduce()); });
    c.impls.emplace_back("loops", "loops (OpenMP, same tree per block)",
                         [&w] { benchmark::DoNotOptimize(w.loops_reduce()); });
#if defined(NDL_BENCH_HAVE_OPENCL)
    if (pocl)
      c.impls.emplace_back("pocl", "PoCL, OpenCL C",
                           [&w] { benchmark::DoNotOptimize(w.pocl_reduce()); });
#endif
    c.impls.emplace_back("omp-reduction", "omp parallel for simd reduction(+)",
                         [&w] { benchmark::DoNotOptimize(w.omp_reduce_ref()); });
    c.comparisons.push_back({"ndl", "loops", "<=", 2.0, design});
    c.comparisons.push_back({"ndl", "pocl", "<", 1.0, design});
    c.comparisons.push_back({"ndl", "omp-reduction", "", 0, "reference"});
    c.rounds = w.reduce_slowest_s > 1.0 ? std::min(rounds, slow_rounds) : rounds;
    cases.push_back(std::move(c));
  }
  struct elementwise_def {
    const char* id;
    const char* label;
    double bytes_per_item;  // 0: report items/s
    void (workload::*run)(bool);
  };
  const elementwise_def elementwise[] = {
      {"triad_ptr", "triad a=b+s*c (float*) 2^24, barrier-free", 12, &workload::triad},
      {"triad_view", "triad a=b+s*c (ndl::view) 2^24, barrier-free", 12, &workload::triad_views},
      {"poly32", "32-term polynomial per element 2^24, barrier-free", 0, &workload::poly},
  };
  for (const elementwise_def& e : elementwise) {
    case_def c{std::string(e.id) + "/n=2^24", e.label};
    const double items = static_cast<double>(w.elementwise_n);
    c.work = e.bytes_per_item > 0 ? e.bytes_per_item * items * 1e-9 : items * 1e-6;
    c.rate_unit = e.bytes_per_item > 0 ? "GB/s" : "Mitem/s";
    const auto run = e.run;
    c.impls.emplace_back("ndl-range", "ndl range{n}", [&w, run] { (w.*run)(false); });
    c.impls.emplace_back("ndl-nd", "ndl nd_range{{n},{256}}", [&w, run] { (w.*run)(true); });
    c.comparisons.push_back(
        {"ndl-nd", "ndl-range", ">=", 0.95, "DESIGN.md 3: CPU barrier-free nd-range"});
    c.rounds = rounds;
    cases.push_back(std::move(c));
  }
  {
    case_def c{"barriers/n=2^20", "k barriers, no work, nd_range{{2^20},{256}}"};
    c.work = static_cast<double>(w.barrier_n) * 1e-6;
    c.rate_unit = "Mitem/s";
    for (int k : barrier_counts)
      c.impls.emplace_back("ndl-k" + std::to_string(k), "ndl k=" + std::to_string(k),
                           [&w, k] { w.ndl_barriers(k); });
#if defined(NDL_BENCH_HAVE_OPENCL)
    if (pocl)
      for (int k : barrier_counts)
        c.impls.emplace_back("pocl-k" + std::to_string(k), "PoCL k=" + std::to_string(k),
                             [&w, k] { w.pocl_barriers(k); });
#endif
    c.rounds = rounds;
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

// Prints one compact line per run and files its sample under its case and contender.
class collecting_reporter : public benchmark::BenchmarkReporter {
 public:
  explicit collecting_reporter(std::map<std::string, slot> slots) : slots_(std::move(slots)) {}

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
        std::printf("  [%d/%d] %-28s %-22s ERROR %s\n", s.round + 1, s.c->rounds, s.c->id.c_str(),
                    s.impl->name.c_str(), run.error_message.c_str());
        failed_ = true;
        continue;
      }
      const double ms = run.real_accumulated_time / static_cast<double>(run.iterations) * 1e3;
      s.impl->samples.push_back(ms);
      std::printf("  [%d/%d] %-28s %-14s %10.3f ms (%" PRId64 " iterations)\n", s.round + 1,
                  s.c->rounds, s.c->id.c_str(), s.impl->name.c_str(), ms,
                  static_cast<std::int64_t>(run.iterations));
      std::fflush(stdout);
    }
  }

  bool failed() const { return failed_; }

 private:
  std::map<std::string, slot> slots_;
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
  bool available = false;   // both contenders ran
  bool throughput = false;  // den/num (higher is better) rather than num/den
  double of_medians = 0;
  // Per-round ratios (the two samples of one round): median, quartiles, extremes.
  double paired_median = 0, paired_q1 = 0, paired_q3 = 0, paired_min = 0, paired_max = 0;
  bool within_budget = true;
};

ratio_stats ratios(const case_def& c, const comparison& cmp) {
  ratio_stats r;
  const impl_def* num = c.find(cmp.num);
  const impl_def* den = c.find(cmp.den);
  if (!num || !den || num->samples.empty() || den->samples.empty()) return r;
  r.available = true;
  r.throughput = cmp.op == ">=";
  auto ratio = [&](double tn, double td) { return r.throughput ? td / tn : tn / td; };
  r.of_medians = ratio(median(num->samples), median(den->samples));
  std::vector<double> paired;
  for (std::size_t i = 0; i < num->samples.size() && i < den->samples.size(); ++i)
    paired.push_back(ratio(num->samples[i], den->samples[i]));
  r.paired_median = median(paired);
  r.paired_q1 = quantile(paired, 0.25);
  r.paired_q3 = quantile(paired, 0.75);
  r.paired_min = *std::min_element(paired.begin(), paired.end());
  r.paired_max = *std::max_element(paired.begin(), paired.end());
  if (cmp.op == "<=")
    r.within_budget = r.of_medians <= cmp.budget;
  else if (cmp.op == "<")
    r.within_budget = r.of_medians < cmp.budget;
  else if (cmp.op == ">=")
    r.within_budget = r.of_medians >= cmp.budget;
  return r;
}

// The barrier cost from the medians of the k-barrier kernels: (t_k - t_0) per work-item per
// barrier, as wall time on T threads and as CPU time (x T), and the marginal cost from k=4
// to k=16 (without the one-off switch of each group to fibers).
struct barrier_cost {
  int k = 0;
  double ms = 0;
  double wall_ns = 0;  // per work-item per barrier
  double cpu_ns = 0;
};

std::vector<barrier_cost> barrier_costs(const case_def& c, const std::string& prefix, double items,
                                        unsigned threads) {
  std::vector<barrier_cost> out;
  const impl_def* base = c.find(prefix + "0");
  if (!base || base->samples.empty()) return out;
  const double t0 = median(base->samples);
  for (int k : barrier_counts) {
    const impl_def* impl = c.find(prefix + std::to_string(k));
    if (!impl || impl->samples.empty()) continue;
    barrier_cost b;
    b.k = k;
    b.ms = median(impl->samples);
    if (k > 0) {
      b.wall_ns = (b.ms - t0) * 1e6 / (items * k);
      b.cpu_ns = b.wall_ns * threads;
    }
    out.push_back(b);
  }
  return out;
}

double marginal_ns(const std::vector<barrier_cost>& costs, double items) {
  const barrier_cost *k4 = nullptr, *k16 = nullptr;
  for (const barrier_cost& b : costs) {
    if (b.k == 4) k4 = &b;
    if (b.k == 16) k16 = &b;
  }
  if (!k4 || !k16) return 0;
  return (k16->ms - k4->ms) * 1e6 / (items * 12);
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
  std::string commit, date, cpu, kernel, compiler, build, flags, ndl_device;
  unsigned threads = 0, hardware_threads = 0, affinity_cpus = 0, ndl_compute_units = 0;
  int omp_max_threads = 0, rounds = 0;
  double load_before[3] = {0, 0, 0}, load_after[3] = {0, 0, 0};
  double busy_cpus_before = 0;  // CPUs busy with other work just before timing
  double seconds = 0;
  pocl_info pocl;
};

void print_table(const std::vector<case_def>& cases, const run_info& info, double barrier_items) {
  std::printf(
      "\nndlaunch work-group benchmark: commit %s, %s, T = %u threads, medians of up to %d "
      "rounds\n",
      info.commit.c_str(), info.cpu.c_str(), info.threads, info.rounds);
  std::printf("PoCL: %s\n", info.pocl.available
                                ? (info.pocl.platform_version + ", device " + info.pocl.device +
                                   ", POCL_MAX_PTHREAD_COUNT=" + info.pocl.max_pthread_count)
                                      .c_str()
                                : ("not available (" + info.pocl.reason + ")").c_str());
  for (const case_def& c : cases) {
    std::printf("\n%s (%d rounds)\n", c.label.c_str(), c.rounds);
    for (const impl_def& impl : c.impls) {
      if (impl.samples.empty()) {
        std::printf("  %-40s (not run)\n", impl.label.c_str());
        continue;
      }
      const double ms = median(impl.samples);
      std::printf("  %-40s %10.3f ms %10.2f %-8s [%.3f..%.3f]\n", impl.label.c_str(), ms,
                  c.work / (ms * 1e-3), c.rate_unit.c_str(),
                  *std::min_element(impl.samples.begin(), impl.samples.end()),
                  *std::max_element(impl.samples.begin(), impl.samples.end()));
    }
    for (const comparison& cmp : c.comparisons) {
      const ratio_stats r = ratios(c, cmp);
      const std::string what =
          cmp.num + " / " + cmp.den + (cmp.op == ">=" ? " throughput" : " time");
      if (!r.available) {
        std::printf("  %-40s %10s    %-21s %-8s  n/a (%s not available)\n", what.c_str(), "-", "",
                    cmp.op.empty() ? "-" : (cmp.op + " " + num(cmp.budget)).c_str(),
                    cmp.den.c_str());
        continue;
      }
      char range[48];
      std::snprintf(range, sizeof range, "paired %.2f..%.2f", r.paired_q1, r.paired_q3);
      std::printf("  %-40s %10.3f    %-21s %-8s  %s\n", what.c_str(), r.of_medians, range,
                  cmp.op.empty() ? "-" : (cmp.op + " " + num(cmp.budget)).c_str(),
                  cmp.op.empty() ? "info" : (r.within_budget ? "ok" : "MISSED"));
    }
    if (c.id.rfind("barriers/", 0) == 0) {
      for (const char* prefix : {"ndl-k", "pocl-k"}) {
        const auto costs = barrier_costs(c, prefix, barrier_items, info.threads);
        if (costs.empty()) continue;
        std::printf("  %s: per work-item per barrier, (t_k - t_0) / (n k):", prefix);
        for (const barrier_cost& b : costs)
          if (b.k > 0) std::printf("  k=%d %.2f ns", b.k, b.wall_ns);
        std::printf("  (wall, T threads; x%u = CPU ns); k=4->16 marginal %.2f ns\n", info.threads,
                    marginal_ns(costs, barrier_items));
      }
    }
  }
  std::printf(
      "\nms: median time per operation [min..max over rounds]; time ratios: lower is better; "
      "throughput ratios: higher is better; paired q1..q3: quartiles of the per-round "
      "ratios.\nCPUs busy with other work before timing: %.1f; load average before/after: "
      "%.2f / %.2f; %.0f s of timing\n",
      info.busy_cpus_before, info.load_before[0], info.load_after[0], info.seconds);
}

void write_json(const std::string& path, const std::vector<case_def>& cases, const run_info& info,
                double barrier_items) {
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"workgroups\",\n";
  j << "  \"commit\": \"" << json_escape(info.commit) << "\",\n";
  j << "  \"date_utc\": \"" << info.date << "\",\n";
  j << "  \"machine\": {\"cpu_model\": \"" << json_escape(info.cpu)
    << "\", \"hardware_threads\": " << info.hardware_threads
    << ", \"affinity_cpus\": " << info.affinity_cpus << ", \"kernel\": \""
    << json_escape(info.kernel) << "\", \"busy_cpus_before\": " << num(info.busy_cpus_before)
    << ", \"load_average_before\": [" << num(info.load_before[0]) << ", "
    << num(info.load_before[1]) << ", " << num(info.load_before[2])
    << "], \"load_average_after\": [" << num(info.load_after[0]) << ", " << num(info.load_after[1])
    << ", " << num(info.load_after[2]) << "]},\n";
  j << "  \"build\": {\"type\": \"" << json_escape(info.build) << "\", \"cxx_flags\": \""
    << json_escape(info.flags) << "\", \"compiler\": \"" << json_escape(info.compiler)
    << "\", \"openmp\": " << _OPENMP << "},\n";
  j << "  \"threads\": " << info.threads << ",\n";
  j << "  \"ndl_device\": {\"name\": \"" << json_escape(info.ndl_device)
    << "\", \"compute_units\": " << info.ndl_compute_units << "},\n";
  j << "  \"omp_max_threads\": " << info.omp_max_threads << ",\n";
  j << "  \"pocl\": {\"available\": " << (info.pocl.available ? "true" : "false");
  if (info.pocl.available)
    j << ", \"platform\": \"" << json_escape(info.pocl.platform) << "\", \"platform_version\": \""
      << json_escape(info.pocl.platform_version) << "\", \"device\": \""
      << json_escape(info.pocl.device) << "\", \"driver_version\": \""
      << json_escape(info.pocl.driver_version)
      << "\", \"compute_units\": " << info.pocl.compute_units
      << ", \"build_seconds\": " << num(info.pocl.build_seconds);
  else
    j << ", \"reason\": \"" << json_escape(info.pocl.reason) << "\"";
  j << ", \"POCL_MAX_PTHREAD_COUNT\": \"" << json_escape(info.pocl.max_pthread_count) << "\"},\n";
  j << "  \"rounds\": " << info.rounds << ",\n";
  j << "  \"seconds\": " << num(info.seconds) << ",\n";
  j << "  \"cases\": [";
  bool first_case = true;
  for (const case_def& c : cases) {
    j << (first_case ? "\n" : ",\n") << "    {\"id\": \"" << json_escape(c.id)
      << "\", \"label\": \"" << json_escape(c.label)
      << "\", \"unit\": \"ms\", \"better\": \"lower\", \"rate_unit\": \""
      << json_escape(c.rate_unit) << "\", \"work_per_op\": " << num(c.work)
      << ", \"rounds\": " << c.rounds << ",\n     \"results\": {";
    bool first_impl = true;
    for (const impl_def& impl : c.impls) {
      const double med = median(impl.samples);
      j << (first_impl ? "" : ",\n                 ") << "\"" << json_escape(impl.name)
        << "\": {\"label\": \"" << json_escape(impl.label) << "\", \"median\": " << num(med)
        << ", \"rate\": " << num(med > 0 ? c.work / (med * 1e-3) : 0);
      if (!impl.samples.empty())
        j << ", \"min\": " << num(*std::min_element(impl.samples.begin(), impl.samples.end()))
          << ", \"max\": " << num(*std::max_element(impl.samples.begin(), impl.samples.end()));
      j << ", \"samples\": [";
      for (std::size_t i = 0; i < impl.samples.size(); ++i)
        j << (i ? ", " : "") << num(impl.samples[i]);
      j << "]}";
      first_impl = false;
    }
    j << "},\n     \"comparisons\": [";
    for (std::size_t i = 0; i < c.comparisons.size(); ++i) {
      const comparison& cmp = c.comparisons[i];
      const ratio_stats r = ratios(c, cmp);
      j << (i ? ",\n                     " : "") << "{\"ratio\": \"" << json_escape(cmp.num) << "/"
        << json_escape(cmp.den) << "\", \"kind\": \"" << (cmp.op == ">=" ? "throughput" : "time")
        << "\"";
      if (cmp.op.empty())
        j << ", \"budget\": null";
      else
        j << ", \"budget\": {\"op\": \"" << cmp.op << "\", \"value\": " << num(cmp.budget)
          << ", \"source\": \"" << json_escape(cmp.source) << "\"}";
      if (!r.available) {
        j << ", \"available\": false}";
        continue;
      }
      j << ", \"available\": true, \"ratio_of_medians\": " << num(r.of_medians)
        << ", \"paired_median\": " << num(r.paired_median)
        << ", \"paired_q1\": " << num(r.paired_q1) << ", \"paired_q3\": " << num(r.paired_q3)
        << ", \"paired_min\": " << num(r.paired_min) << ", \"paired_max\": " << num(r.paired_max);
      if (!cmp.op.empty()) j << ", \"within_budget\": " << (r.within_budget ? "true" : "false");
      j << "}";
    }
    j << "]";
    if (c.id.rfind("barriers/", 0) == 0) {
      j << ",\n     \"barrier_cost\": {\"work_items\": " << num(barrier_items)
        << ", \"work_group\": " << barrier_group;
      for (const char* prefix : {"ndl-k", "pocl-k"}) {
        const auto costs = barrier_costs(c, prefix, barrier_items, info.threads);
        if (costs.empty()) continue;
        const std::string who = std::string(prefix).substr(0, std::strlen(prefix) - 2);
        j << ", \"" << who << "\": {\"per_k\": [";
        for (std::size_t i = 0; i < costs.size(); ++i)
          j << (i ? ", " : "") << "{\"k\": " << costs[i].k << ", \"ms\": " << num(costs[i].ms)
            << ", \"wall_ns_per_item_barrier\": " << num(costs[i].wall_ns)
            << ", \"cpu_ns_per_item_barrier\": " << num(costs[i].cpu_ns) << "}";
        j << "], \"marginal_wall_ns_k4_to_k16\": " << num(marginal_ns(costs, barrier_items)) << "}";
      }
      j << "}";
    }
    j << "}";
    first_case = false;
  }
  j << "\n  ]\n}\n";
  std::ofstream out(path);
  out << j.str();
  if (!out) {
    std::fprintf(stderr, "ndl_bench_workgroups: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::printf("JSON written to %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_options(argc, argv);
  const unsigned threads = thread_count();  // before ndl starts: it reads NDL_CPU_THREADS
  // Before the OpenCL ICD loads PoCL: its pthread device reads this once.
  setenv("POCL_MAX_PTHREAD_COUNT", std::to_string(threads).c_str(), 1);
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
#ifdef NDL_BENCH_BUILD
  info.build = NDL_BENCH_BUILD;
#endif
#ifdef NDL_BENCH_FLAGS
  info.flags = NDL_BENCH_FLAGS;
#endif
  if (utsname u{}; uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;

  std::printf("ndl_bench_workgroups: commit %s; %s; T = %u threads; %d rounds\n",
              info.commit.c_str(), info.cpu.c_str(), threads, opt.rounds);
  workload w(opt, threads);
  info.ndl_device = w.cpu.name();
  info.ndl_compute_units = w.cpu.compute_units();
  info.pocl = w.info_pocl;
  std::printf("ndl %s: %u compute units; OpenMP max threads %d; PoCL: %s\n",
              w.cpu.filter_string().c_str(), info.ndl_compute_units, info.omp_max_threads,
              info.pocl.available ? (info.pocl.platform_version + " on " + info.pocl.device +
                                     ", kernels built in " + num(info.pocl.build_seconds) + " s")
                                        .c_str()
                                  : ("not available: " + info.pocl.reason).c_str());
  if (info.ndl_compute_units != threads || info.omp_max_threads != static_cast<int>(threads)) {
    std::fprintf(stderr,
                 "ndl_bench_workgroups: thread counts disagree; the comparison is unfair\n");
    return 1;
  }
  if (info.affinity_cpus != 0 && threads > info.affinity_cpus)
    std::printf("note: T = %u exceeds the %u CPUs this process may run on\n", threads,
                info.affinity_cpus);
  validate(w);

  std::vector<case_def> cases = make_cases(w, opt.rounds);
  std::map<std::string, slot> slots;
  for (int r = 0; r < opt.rounds; ++r) {
    for (case_def& c : cases) {
      if (r >= c.rounds) continue;
      std::vector<impl_def*> order;
      for (impl_def& impl : c.impls)
        order.push_back(&impl);
      // Alternate the order between rounds (and rotate it, for cases of more than two).
      std::rotate(order.begin(), order.begin() + (r / 2) % static_cast<int>(order.size()),
                  order.end());
      if (r % 2 == 1) std::reverse(order.begin(), order.end());
      for (impl_def* impl : order) {
        const std::string name = c.id + "/" + impl->name + "/round:" + std::to_string(r);
        slots.emplace(name, slot{&c, impl, r});
        benchmark::RegisterBenchmark(name.c_str(),
                                     [impl](benchmark::State& st) {
                                       // Untimed: lets the previous contender's idle threads
                                       // (OpenMP spins after a region) stop spinning.
                                       std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                       for (auto _ : st)
                                         impl->op();
                                     })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(c.min_time);
      }
    }
  }

  info.busy_cpus_before = busy_cpus(0.3);
  if (info.busy_cpus_before > 0.5)
    std::printf("note: other processes kept %.1f CPUs busy just before timing: expect noise\n",
                info.busy_cpus_before);

  collecting_reporter reporter(std::move(slots));
  getloadavg(info.load_before, 3);
  const auto t0 = std::chrono::steady_clock::now();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  getloadavg(info.load_after, 3);
  benchmark::Shutdown();

  const double barrier_items = static_cast<double>(w.barrier_n);
  print_table(cases, info, barrier_items);
  write_json(opt.json_path, cases, info, barrier_items);
  return reporter.failed() ? 1 : 0;
}
