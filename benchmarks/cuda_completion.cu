// How should a launcher learn that its launches finished, at the least cost to the thread
// that launches? Raw CUDA emulations of completion designs, interleaved, medians: the
// measurements behind docs/adr/0008-lazy-completion.md. No ndlaunch code is involved.
//
// Run: ./build/<preset>/benchmarks/ndl_bench_cuda_completion (exits 0 without a GPU).
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define CHECK(call)                                                                              \
  do {                                                                                           \
    cudaError_t e_ = (call);                                                                     \
    if (e_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

using clk = std::chrono::steady_clock;
static double us_since(clk::time_point t0) {
  return std::chrono::duration<double, std::micro>(clk::now() - t0).count();
}
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
static inline void cpu_pause() {
  __builtin_ia32_pause();
}

__global__ void add_one(float* a, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i < n) a[i] += 1.0f;
}

using write64_fn = CUresult (*)(CUstream, CUdeviceptr, cuuint64_t, unsigned);
static write64_fn write64 = nullptr;

constexpr size_t n = 1024;
constexpr int launches = 2000;
static float* buf = nullptr;
static cudaStream_t s;

static void launch() {
  add_one<<<(n + 255) / 256, 256, 0, s>>>(buf, n);
}

// A completion thread in one of several designs. The submitter calls on_launch() after each
// launch; finish() waits until every launch has been seen complete.
struct completer {
  enum mode_t {
    none,           // nothing (raw)
    rec_sub,        // submitter records an event per launch; thread syncs on each (ndl today)
    rec_sub_noth,   // submitter records per launch, nobody waits (record cost alone)
    rec_thr_block,  // thread takes the batch, records one event, blocking sync
    rec_thr_query,  // thread takes the batch, records one event, polls cudaEventQuery
    wv_thr_spin,    // thread takes the batch, writes a value (stream mem op), spins on memory
    wv_sub_spin,    // submitter writes a value per launch, thread spins on memory
  } mode;
  bool blocking_events;
  std::vector<cudaEvent_t> pool;
  std::mutex m;
  std::condition_variable cv;
  std::deque<int> pending;  // launch ids (stand-ins for commands)
  std::atomic<size_t> pending_count{0};
  std::atomic<long> done{0};
  bool stop = false, sleeping = false;
  std::thread th;
  volatile unsigned long long* host_word = nullptr;
  CUdeviceptr dev_word = 0;
  unsigned long long seq = 0;

  completer(mode_t md, bool blocking) : mode(md), blocking_events(blocking) {
    for (int i = 0; i < 64; ++i) {
      cudaEvent_t e;
      CHECK(cudaEventCreateWithFlags(
          &e, cudaEventDisableTiming | (blocking ? cudaEventBlockingSync : 0)));
      pool.push_back(e);
    }
    void* h = nullptr;
    CHECK(cudaHostAlloc(&h, 64, cudaHostAllocMapped));
    host_word = static_cast<volatile unsigned long long*>(h);
    *host_word = 0;
    void* d = nullptr;
    CHECK(cudaHostGetDevicePointer(&d, h, 0));
    dev_word = reinterpret_cast<CUdeviceptr>(d);
    if (mode != none && mode != rec_sub_noth) th = std::thread([this] { loop(); });
  }
  ~completer() {
    {
      std::lock_guard l(m);
      stop = true;
    }
    cv.notify_all();
    if (th.joinable()) th.join();
    for (auto e : pool)
      CHECK(cudaEventDestroy(e));
    CHECK(cudaFreeHost(const_cast<unsigned long long*>(host_word)));
  }
  int rr = 0;
  std::vector<int> ev_of;  // per pending id (rec_sub): event index
  void on_launch(int id) {
    if (mode == none) return;
    if (mode == rec_sub || mode == rec_sub_noth) CHECK(cudaEventRecord(pool[id % 64], s));
    if (mode == rec_sub_noth) return;
    if (mode == wv_sub_spin) {
      if (write64(s, dev_word, static_cast<cuuint64_t>(id + 1), 0) != CUDA_SUCCESS) std::exit(2);
    }
    bool wake;
    {
      std::lock_guard l(m);
      pending.push_back(id);
      pending_count.store(pending.size(), std::memory_order_relaxed);
      wake = sleeping;
    }
    if (wake) cv.notify_one();
  }
  void loop() {
    CHECK(cudaSetDevice(0));
    int next_ev = 0;
    for (;;) {
      for (int i = 0; i < 20000 && pending_count.load(std::memory_order_relaxed) == 0; ++i)
        cpu_pause();
      std::deque<int> batch;
      {
        std::unique_lock l(m);
        if (!stop && pending.empty()) {
          sleeping = true;
          cv.wait(l, [&] { return stop || !pending.empty(); });
          sleeping = false;
        }
        if (pending.empty()) return;
        if (mode == rec_sub) {
          batch.push_back(pending.front());
          pending.pop_front();
        } else {
          batch.swap(pending);
        }
        pending_count.store(pending.size(), std::memory_order_relaxed);
      }
      switch (mode) {
        case rec_sub:
          CHECK(cudaEventSynchronize(pool[batch.front() % 64]));
          break;
        case rec_thr_block:
        case rec_thr_query: {
          cudaEvent_t e = pool[next_ev++ % 64];
          CHECK(cudaEventRecord(e, s));
          if (mode == rec_thr_block) {
            CHECK(cudaEventSynchronize(e));
          } else {
            int pauses = 16;
            for (;;) {
              cudaError_t q = cudaEventQuery(e);
              if (q == cudaSuccess) break;
              if (q != cudaErrorNotReady) CHECK(q);
              for (int i = 0; i < pauses; ++i)
                cpu_pause();
              if (pauses < 4096) pauses *= 2;
            }
          }
          break;
        }
        case wv_thr_spin: {
          const unsigned long long want = ++seq;
          if (write64(s, dev_word, want, 0) != CUDA_SUCCESS) std::exit(2);
          while (*host_word < want)
            cpu_pause();
          break;
        }
        case wv_sub_spin: {
          const unsigned long long want = static_cast<unsigned long long>(batch.back() + 1);
          while (*host_word < want)
            cpu_pause();
          break;
        }
        default:
          break;
      }
      done.fetch_add(static_cast<long>(batch.size()), std::memory_order_release);
    }
  }
};

int main() {
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) {
    std::printf("no GPU\n");
    return 0;
  }
  CHECK(cudaSetDevice(0));
  cudaDriverEntryPointQueryResult qr;
  CHECK(cudaGetDriverEntryPointByVersion("cuStreamWriteValue64", reinterpret_cast<void**>(&write64),
                                         12000, cudaEnableDefault, &qr));
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CHECK(cudaMalloc(&buf, n * sizeof(float)));
  struct variant {
    const char* name;
    completer::mode_t mode;
    bool blocking;
  };
  const variant vs[] = {
      {"raw launch", completer::none, false},
      {"raw + record per launch (nobody waits)", completer::rec_sub_noth, false},
      {"raw + record per launch (blocking-sync events, nobody waits)", completer::rec_sub_noth,
       true},
      {"today: record per launch, thread blocking-syncs each", completer::rec_sub, true},
      {"today, spin: record per launch, thread spin-syncs each", completer::rec_sub, false},
      {"thread records per batch, blocking sync", completer::rec_thr_block, true},
      {"thread records per batch, spin sync", completer::rec_thr_block, false},
      {"thread records per batch, polls cudaEventQuery", completer::rec_thr_query, false},
      {"thread writes value per batch, spins on memory", completer::wv_thr_spin, false},
      {"submitter writes value per launch, thread spins on memory", completer::wv_sub_spin, false},
  };
  const int nv = sizeof(vs) / sizeof(vs[0]);
  const int rounds = 9;
  std::vector<std::vector<double>> t(nv), tw(nv);
  for (int r = 0; r < rounds + 1; ++r) {
    for (int k = 0; k < nv; ++k) {
      const int v = (r % 2) ? nv - 1 - k : k;  // alternate the order
      completer c(vs[v].mode, vs[v].blocking);
      CHECK(cudaStreamSynchronize(s));
      const auto t0 = clk::now();
      for (int i = 0; i < launches; ++i) {
        launch();
        c.on_launch(i);
      }
      const double d = us_since(t0) / launches;
      if (vs[v].mode != completer::none && vs[v].mode != completer::rec_sub_noth)
        while (c.done.load(std::memory_order_acquire) < launches)
          cpu_pause();
      const double dw = us_since(t0) / launches;
      CHECK(cudaStreamSynchronize(s));
      if (r > 0) {
        t[v].push_back(d);
        tw[v].push_back(dw);
      }
    }
  }
  std::printf("%-64s %10s %10s %12s\n", "design (2000 launches of a 1024-float kernel)", "host us",
              "vs raw", "all seen us");
  for (int v = 0; v < nv; ++v)
    std::printf("%-64s %10.3f %+10.3f %12.3f\n", vs[v].name, median(t[v]),
                median(t[v]) - median(t[0]), median(tw[v]));

  // Single launch then wait for completion: latency of each design.
  std::printf("\n%-64s %10s\n", "one launch, then until seen complete", "us");
  for (int v = 0; v < nv; ++v) {
    if (vs[v].mode == completer::rec_sub_noth) continue;
    completer c(vs[v].mode, vs[v].blocking);
    std::vector<double> lat;
    for (int i = 0; i < 300; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the thread sleep
      const auto t0 = clk::now();
      launch();
      c.on_launch(i);
      if (vs[v].mode == completer::none)
        CHECK(cudaStreamSynchronize(s));
      else
        while (c.done.load(std::memory_order_acquire) < i + 1)
          cpu_pause();
      lat.push_back(us_since(t0));
    }
    std::printf("%-64s %10.3f\n", vs[v].name, median(lat));
  }
  return 0;
}
