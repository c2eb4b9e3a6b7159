// ndlaunch on a CUDA GPU against raw CUDA (<<<>>> launches of the same kernels), in one run
// (DESIGN.md section 3): async launch host time, call_kernel round trip, async launches with
// 1, 4 and 16 array arguments, a chain of 1000 dependent async launches, triad throughput
// (against raw and against the device-to-device copy rate) and a tiled matmul.
//
// Run: ./build/<preset>/benchmarks/ndl_bench_cuda_launch [--json=cuda_launch.json]
// Prints a table of medians and ratios; exits 0 with a message when there is no GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <ndl/ndl.hpp>
#include <string>
#include <thread>
#include <vector>

#ifndef NDL_BENCH_COMMIT
#define NDL_BENCH_COMMIT "unknown"
#endif

namespace {

#define CHECK(call)                                                           \
  do {                                                                        \
    cudaError_t e_ = (call);                                                  \
    if (e_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

using clk = std::chrono::steady_clock;
double us_since(clk::time_point t0) {
  return std::chrono::duration<double, std::micro>(clk::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// --- the kernels, raw and ndl ----------------------------------------------------------------

__global__ void raw_add_one(float* a, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i < n) a[i] += 1.0f;
}
struct add_one {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a) const {
    a[it.get_id(0)] += 1.0f;
  }
};

template <int K>
struct ptrs {
  float* p[K];
};
template <int K>
__global__ void raw_touch(ptrs<K> p, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i < n)
    for (int k = 0; k < K; ++k)
      p.p[k][i] += 1.0f;
}
struct touch_k {
  template <class... V>
  NDL_KERNEL_FN void operator()(ndl::item<1> it, V... v) const {
    ((v[it.get_id(0)] += 1.0f), ...);
  }
};

__global__ void raw_triad(float* a, const float* b, const float* c, float s, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i < n) a[i] = b[i] + s * c[i];
}
// The raw triad as ndlaunch runs it (64-bit grid-stride loop), to tell the launch shape's
// share of a gap from the kernel body's.
__global__ void raw_triad_gs(float* a, const float* b, const float* c, float s, size_t n) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += stride)
    a[i] = b[i] + s * c[i];
}
struct triad {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a, ndl::view<const float, 1> b,
                                ndl::view<const float, 1> c, float s) const {
    const auto i = it.get_id(0);
    a[i] = b[i] + s * c[i];
  }
};

struct varied {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> a, int seed) const {
    a[it.get_id(0)] = static_cast<float>((it.get_id(0) * 2654435761u + seed) % 1000) / 250.0f;
  }
};
struct nothing {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<float, 1>) const {}
};

constexpr int tile = 16;
__global__ void raw_matmul(const float* a, const float* b, float* c, int n) {
  __shared__ float ta[tile][tile], tb[tile][tile];
  const int li = threadIdx.y, lj = threadIdx.x;
  const int i = blockIdx.y * tile + li, j = blockIdx.x * tile + lj;
  float sum = 0;
  for (int t = 0; t < n; t += tile) {
    ta[li][lj] = a[i * n + t + lj];
    tb[li][lj] = b[(t + li) * n + j];
    __syncthreads();
    for (int k = 0; k < tile; ++k)
      sum += ta[li][k] * tb[k][lj];
    __syncthreads();
  }
  c[i * n + j] = sum;
}
struct matmul {
  NDL_KERNEL_FN void operator()(ndl::nd_item<2> it, ndl::view<const float, 2> a,
                                ndl::view<const float, 2> b, ndl::view<float, 2> c,
                                ndl::local_accessor<float, 2> ta,
                                ndl::local_accessor<float, 2> tb) const {
    const auto i = it.get_global_id(0), j = it.get_global_id(1);
    const auto li = it.get_local_id(0), lj = it.get_local_id(1);
    const auto n = a.shape()[1];
    float sum = 0;
    for (ndl::size_t t = 0; t < n; t += tile) {
      ta(li, lj) = a(i, t + lj);
      tb(li, lj) = b(t + li, j);
      ndl::group_barrier(it.get_group());
      for (int k = 0; k < tile; ++k)
        sum += ta(li, k) * tb(k, lj);
      ndl::group_barrier(it.get_group());
    }
    c(i, j) = sum;
  }
};

// Device time of `f` (which enqueues on `s`), median over `reps`, in ms.
double gpu_ms(cudaStream_t s, int reps, const std::function<void()>& f) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    CHECK(cudaEventRecord(a, s));
    f();
    CHECK(cudaEventRecord(b, s));
    CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CHECK(cudaEventDestroy(a));
  CHECK(cudaEventDestroy(b));
  return median(t);
}

struct row {
  std::string name, unit;
  double ndl, raw, budget_note_value;
  std::string budget;
};

}  // namespace

int main(int argc, char** argv) {
  std::string json;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--json=", 0) == 0) json = argv[i] + 7;
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) {
    std::printf("no CUDA device: nothing to measure\n");
    return 0;
  }
  ndl::device dev{"cuda:0"};
  ndl::queue q(dev);  // in-order, one stream
  CHECK(cudaSetDevice(0));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<row> rows;
  const int rounds = 7;

  // 1. Async launch host time (1024 floats; launches back to back, then one wait).
  {
    const size_t n = 1024;
    auto a = ndl::array<float>::zeros({n}, q);
    float* raw_a = nullptr;
    CHECK(cudaMalloc(&raw_a, n * sizeof(float)));
    const int launches = 2000;
    std::vector<double> tn, tr;
    for (int r = 0; r < rounds + 1; ++r) {
      auto t0 = clk::now();
      for (int k = 0; k < launches; ++k)
        (void)ndl::call_kernel_async(q, add_one{}, ndl::range{n}, {}, a);
      const double dn = us_since(t0) / launches;
      q.wait();
      t0 = clk::now();
      for (int k = 0; k < launches; ++k)
        raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
      const double dr = us_since(t0) / launches;
      CHECK(cudaStreamSynchronize(s));
      if (r > 0) {  // round 0 warms up
        tn.push_back(dn);
        tr.push_back(dr);
      }
    }
    rows.push_back(
        {"async launch, host time per launch", "us", median(tn), median(tr), 0, "<= raw + 0.3 us"});

    // Diagnostics of the gap. (a) ndlaunch's own kernel (payload and launch shape) launched
    // with <<<>>> by hand: the share of the kernel and its parameters. (b) the same bursts
    // timed until the work is seen complete (q.wait(), stream sync): whether the GPU keeps up.
    {
      using payload_t = ndl::detail::payload<add_one, ndl::view<float, 1>>;
      payload_t p{add_one{}, ndl::detail::pack_args(a)};
      ndl::detail::cuda_range_space<1> sp{};
      const size_t global[1] = {n};
      const size_t blocks = ndl::detail::cuda_range_setup<1>(global, 256, sp);
      std::vector<double> tk, tw, trw;
      for (int r = 0; r < rounds + 1; ++r) {
        auto t0 = clk::now();
        for (int k = 0; k < launches; ++k)
          ndl::detail::cuda_range_kernel<payload_t, 1>
              <<<static_cast<unsigned>(blocks), 256, 0, s>>>(p, sp);
        const double dk = us_since(t0) / launches;
        CHECK(cudaStreamSynchronize(s));
        t0 = clk::now();
        for (int k = 0; k < launches; ++k)
          (void)ndl::call_kernel_async(q, add_one{}, ndl::range{n}, {}, a);
        q.wait();
        const double dw = us_since(t0) / launches;
        t0 = clk::now();
        for (int k = 0; k < launches; ++k)
          raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
        CHECK(cudaStreamSynchronize(s));
        const double drw = us_since(t0) / launches;
        if (r > 0) {
          tk.push_back(dk);
          tw.push_back(dw);
          trw.push_back(drw);
        }
      }
      rows.push_back({"  ndlaunch's kernel and payload launched with <<<>>> (vs raw kernel)", "us",
                      median(tk), median(tr), 0, "info"});
      rows.push_back({"  async burst until seen complete, per launch (q.wait vs stream sync)", "us",
                      median(tw), median(trw), 0, "info"});
    }

    // Diagnostics of the gap: a raw launch plus an event record each time, and raw launches
    // while another thread waits on the last event (as ndlaunch's completion thread does).
    {
      std::vector<cudaEvent_t> evs(launches);
      for (auto& e : evs)
        CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      std::vector<double> te, tw;
      for (int r = 0; r < rounds; ++r) {
        auto t0 = clk::now();
        for (int k = 0; k < launches; ++k) {
          raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
          CHECK(cudaEventRecord(evs[k], s));
        }
        te.push_back(us_since(t0) / launches);
        CHECK(cudaStreamSynchronize(s));
        std::atomic<int> issued{0};
        std::thread waiter([&] {
          CHECK(cudaSetDevice(0));
          for (int k = 0; k < launches; ++k) {
            while (issued.load(std::memory_order_acquire) <= k) {
            }
            CHECK(cudaEventSynchronize(evs[k]));
          }
        });
        t0 = clk::now();
        for (int k = 0; k < launches; ++k) {
          raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
          CHECK(cudaEventRecord(evs[k], s));
          issued.store(k + 1, std::memory_order_release);
        }
        tw.push_back(us_since(t0) / launches);
        waiter.join();
      }
      for (auto& e : evs)
        CHECK(cudaEventDestroy(e));
      rows.push_back({"  raw launch + event record (vs + a thread syncing on each event)", "us",
                      median(te), median(tw), 0, "info"});
    }

    // 2. call_kernel round trip against launch + stream synchronize.
    std::vector<double> rn, rr;
    for (int r = 0; r < 2000; ++r) {
      auto t0 = clk::now();
      ndl::call_kernel(q, add_one{}, ndl::range{n}, a);
      rn.push_back(us_since(t0));
      t0 = clk::now();
      raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
      CHECK(cudaStreamSynchronize(s));
      rr.push_back(us_since(t0));
    }
    rows.push_back({"call_kernel round trip", "us", median(rn), median(rr), 0, "<= 1.05 x raw"});

    // The runtime's own share: launches over zero work-items reach no CUDA call.
    std::vector<double> zs, za;
    for (int r = 0; r < 2000; ++r) {
      auto t0 = clk::now();
      ndl::call_kernel(q, nothing{}, ndl::range{size_t{0}}, a);
      zs.push_back(us_since(t0));
      t0 = clk::now();
      (void)ndl::call_kernel_async(q, nothing{}, ndl::range{size_t{0}}, {}, a);
      za.push_back(us_since(t0));
    }
    q.wait();
    rows.push_back(
        {"call_kernel over 0 work-items (runtime only)", "us", median(zs), 0, 0, "info"});
    rows.push_back(
        {"call_kernel_async over 0 work-items (runtime only)", "us", median(za), 0, 0, "info"});

    // A queue wait that begins while the queue's launch still waits for a CPU command: from
    // the CPU command's release to the wait's return (raw: one launch + stream sync). The
    // launch is enqueued only after the wait began, so the wait must have it noticed.
    {
      ndl::queue cpu_q(ndl::device{"cpu:0"});
      std::vector<double> tw, tr;
      for (int r = 0; r < 200; ++r) {
        std::atomic<bool> go{false};
        std::atomic<bool>* flag = &go;
        const ndl::event gate =
            ndl::call_kernel_async(cpu_q, ndl::cpu_only([flag](ndl::item<1>) {
                                     while (!flag->load(std::memory_order_acquire))
                                       std::this_thread::yield();
                                   }),
                                   ndl::range{1}, {})
                .device_event;
        (void)ndl::call_kernel_async(q, add_one{}, ndl::range{n}, {gate}, a);
        clk::time_point released;
        std::thread opener([&] {
          std::this_thread::sleep_for(std::chrono::microseconds(300));
          released = clk::now();
          go.store(true, std::memory_order_release);
        });
        q.wait();
        const auto back = clk::now();
        opener.join();
        tw.push_back(std::chrono::duration<double, std::micro>(back - released).count());
        auto t0 = clk::now();
        raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
        CHECK(cudaStreamSynchronize(s));
        tr.push_back(us_since(t0));
      }
      rows.push_back({"  queue wait begun before the launch's CPU dependency completed", "us",
                      median(tw), median(tr), 0, "info"});
    }

    // 4. A chain of 1000 dependent async launches (each on the previous one's event).
    for (bool in_order : {true, false}) {
      ndl::queue cq(dev, {.in_order = in_order});
      auto c = ndl::array<float>::zeros({n}, cq);
      std::vector<double> cn, cr;
      for (int r = 0; r < rounds; ++r) {
        auto t0 = clk::now();
        ndl::event last;
        for (int k = 0; k < 1000; ++k)
          last = ndl::call_kernel_async(cq, add_one{}, ndl::range{n}, {last}, c).device_event;
        last.wait();
        cn.push_back(us_since(t0) / 1000);
        t0 = clk::now();
        for (int k = 0; k < 1000; ++k)
          raw_add_one<<<(n + 255) / 256, 256, 0, s>>>(raw_a, n);
        CHECK(cudaStreamSynchronize(s));
        cr.push_back(us_since(t0) / 1000);
      }
      rows.push_back({std::string("chain of 1000 dependent async launches, per launch (") +
                          (in_order ? "in-order" : "out-of-order") + " queue)",
                      "us", median(cn), median(cr), 0, "info"});
    }
    CHECK(cudaFree(raw_a));
  }

  // 3. Async launches with 1, 4 and 16 array arguments (host time per launch).
  {
    const size_t n = 1024;
    std::vector<ndl::array<float>> arrs;
    std::vector<float*> raws(16);
    for (int k = 0; k < 16; ++k) {
      arrs.push_back(ndl::array<float>::zeros({n}, q));
      CHECK(cudaMalloc(&raws[k], n * sizeof(float)));
    }
    auto measure = [&](auto launch_ndl, auto launch_raw, const char* name) {
      const int launches = 2000;
      std::vector<double> tn, tr;
      for (int r = 0; r < rounds + 1; ++r) {
        auto t0 = clk::now();
        for (int k = 0; k < launches; ++k)
          launch_ndl();
        const double dn = us_since(t0) / launches;
        q.wait();
        t0 = clk::now();
        for (int k = 0; k < launches; ++k)
          launch_raw();
        const double dr = us_since(t0) / launches;
        CHECK(cudaStreamSynchronize(s));
        if (r > 0) {
          tn.push_back(dn);
          tr.push_back(dr);
        }
      }
      rows.push_back({name, "us", median(tn), median(tr), 0, "<= raw + 0.3 us"});
    };
    auto& A = arrs;
    measure([&] { (void)ndl::call_kernel_async(q, touch_k{}, ndl::range{n}, {}, A[0]); },
            [&] {
              ptrs<1> p{{raws[0]}};
              raw_touch<1><<<4, 256, 0, s>>>(p, n);
            },
            "async launch, 1 array argument");
    measure(
        [&] {
          (void)ndl::call_kernel_async(q, touch_k{}, ndl::range{n}, {}, A[0], A[1], A[2], A[3]);
        },
        [&] {
          ptrs<4> p{{raws[0], raws[1], raws[2], raws[3]}};
          raw_touch<4><<<4, 256, 0, s>>>(p, n);
        },
        "async launch, 4 array arguments");
    measure(
        [&] {
          (void)ndl::call_kernel_async(q, touch_k{}, ndl::range{n}, {}, A[0], A[1], A[2], A[3],
                                       A[4], A[5], A[6], A[7], A[8], A[9], A[10], A[11], A[12],
                                       A[13], A[14], A[15]);
        },
        [&] {
          ptrs<16> p;
          for (int k = 0; k < 16; ++k)
            p.p[k] = raws[k];
          raw_touch<16><<<4, 256, 0, s>>>(p, n);
        },
        "async launch, 16 array arguments");
    for (float* p : raws)
      CHECK(cudaFree(p));
  }

  // 5. Triad at 2^28 floats: GB/s counting 3 arrays moved. Both run over the same arrays
  // (varied data: uniform or zero data can move faster), timed by CUDA events: ndl's from a
  // profiling queue's event timestamps, raw's around the launch.
  ndl::queue pq(dev, {.in_order = true, .enable_profiling = true});
  {
    const size_t n = size_t{1} << 28;
    auto a = ndl::array<float>::zeros({n}, pq), b = ndl::array<float>::zeros({n}, pq),
         c = ndl::array<float>::zeros({n}, pq);
    ndl::call_kernel(pq, varied{}, ndl::range{n}, b, 1);
    ndl::call_kernel(pq, varied{}, ndl::range{n}, c, 2);
    const double bytes = 3.0 * n * 4;
    std::vector<double> gn, gr, gc;
    for (int r = 0; r < rounds + 1; ++r) {
      auto [h, d] = ndl::call_kernel_async(pq, triad{}, ndl::range{n}, {}, a, b, c, 3.0f);
      h.wait();
      const double tn = static_cast<double>(d.profiling_end() - d.profiling_start()) / 1e3;
      const double tr =
          1000 * gpu_ms(s, 1, [&] {
            raw_triad<<<(n + 255) / 256, 256, 0, s>>>(a.data(), b.data(), c.data(), 3.0f, n);
          });
      const double tc =
          1000 * gpu_ms(s, 1, [&] {
            CHECK(cudaMemcpyAsync(a.data(), b.data(), n * 4, cudaMemcpyDeviceToDevice, s));
          });
      if (r > 0) {
        gn.push_back(bytes / tn / 1e3);
        gr.push_back(bytes / tr / 1e3);
        gc.push_back(2.0 * n * 4 / tc / 1e3);
      }
    }
    rows.push_back({"triad 2^28 floats, device time (events)", "GB/s", median(gn), median(gr),
                    median(gc), ">= 0.97 x raw"});
    // Diagnostics: raw launch shapes.
    for (unsigned block : {256u, 512u, 1024u}) {
      std::vector<double> g1, g2;
      for (int r = 0; r < rounds; ++r) {
        g1.push_back(bytes /
                     (1000 * gpu_ms(s, 1,
                                    [&] {
                                      raw_triad<<<(n + block - 1) / block, block, 0, s>>>(
                                          a.data(), b.data(), c.data(), 3.0f, n);
                                    })) /
                     1e3);
        g2.push_back(bytes /
                     (1000 * gpu_ms(s, 1,
                                    [&] {
                                      raw_triad_gs<<<(n + block - 1) / block, block, 0, s>>>(
                                          a.data(), b.data(), c.data(), 3.0f, n);
                                    })) /
                     1e3);
      }
      rows.push_back({"  raw triad, block " + std::to_string(block) + " (vs grid-stride form)",
                      "GB/s", median(g1), median(g2), 0, "info"});
    }
    ndl::call_kernel(pq, triad{}, ndl::range{n}, a, b, c, 3.0f);
    const auto ha = a.to_host(), hb = b.to_host(), hc = c.to_host();
    for (size_t i = 0; i < n; i += 4099)
      if (std::abs(ha[i] - (hb[i] + 3.0f * hc[i])) > 1e-5f * (1.0f + std::abs(ha[i]))) {
        std::printf("FAIL triad result at %zu\n", i);
        return 1;
      }
  }

  // 6. Tiled matmul 2048^3 (ms of device time), over the same arrays.
  {
    const int n = 2048;
    const size_t nn = size_t(n) * n;
    std::vector<float> h(nn);
    for (size_t i = 0; i < nn; ++i)
      h[i] = static_cast<float>((i * 37) % 101) / 101.0f;
    auto a = ndl::array<float, 2>::from_host(h, {size_t(n), size_t(n)}, pq);
    auto b = ndl::array<float, 2>::from_host(h, {size_t(n), size_t(n)}, pq);
    auto c = ndl::array<float, 2>::zeros({size_t(n), size_t(n)}, pq);
    float* rc;
    CHECK(cudaMalloc(&rc, nn * 4));
    std::vector<double> mn, mr;
    for (int r = 0; r < rounds + 1; ++r) {
      auto [hev, d] = ndl::call_kernel_async(
          pq, matmul{}, ndl::nd_range<2>{{size_t(n), size_t(n)}, {tile, tile}}, {}, a, b, c,
          ndl::local_accessor<float, 2>{{tile, tile}}, ndl::local_accessor<float, 2>{{tile, tile}});
      hev.wait();
      const double tn = static_cast<double>(d.profiling_end() - d.profiling_start()) / 1e6;
      const double tr = gpu_ms(s, 1, [&] {
        raw_matmul<<<dim3(n / tile, n / tile), dim3(tile, tile), 0, s>>>(a.data(), b.data(), rc, n);
      });
      if (r > 0) {
        mn.push_back(tn);
        mr.push_back(tr);
      }
    }
    std::vector<float> hc(nn);
    CHECK(cudaMemcpy(hc.data(), rc, nn * 4, cudaMemcpyDeviceToHost));
    const auto nc = c.to_host();
    for (size_t i = 0; i < nn; i += 9973)
      if (std::abs(nc[i] - hc[i]) > 1e-3f * (1 + std::abs(hc[i]))) {
        std::printf("FAIL matmul mismatch at %zu: %f vs %f\n", i, nc[i], hc[i]);
        return 1;
      }
    rows.push_back(
        {"tiled matmul 2048^3, device time (events)", "ms", median(mn), median(mr), 0, "info"});
    CHECK(cudaFree(rc));
  }

  cudaDeviceProp props;
  CHECK(cudaGetDeviceProperties(&props, 0));
  std::printf("\nndlaunch vs raw CUDA on %s (commit %s), medians\n", props.name, NDL_BENCH_COMMIT);
  std::printf("%-62s %10s %10s %8s %8s  %s\n", "benchmark", "ndl", "raw", "ndl/raw", "ndl-raw",
              "budget");
  for (const auto& r : rows) {
    std::printf("%-62s %10.3f %10.3f %8.3f %8.3f  %s %s", r.name.c_str(), r.ndl, r.raw,
                r.raw > 0 ? r.ndl / r.raw : 0.0, r.ndl - r.raw, r.unit.c_str(), r.budget.c_str());
    if (r.budget_note_value > 0)
      std::printf("  (D2D copy %.0f GB/s: ndl at %.2f of it)", r.budget_note_value,
                  r.ndl / r.budget_note_value);
    std::printf("\n");
  }
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f) return 1;
    std::fprintf(f, "{\n  \"commit\": \"%s\",\n  \"device\": \"%s\",\n  \"rows\": [\n",
                 NDL_BENCH_COMMIT, props.name);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::fprintf(f,
                   "    {\"name\": \"%s\", \"unit\": \"%s\", \"ndl\": %.4f, \"raw\": %.4f, "
                   "\"ratio\": %.4f, \"copy_rate\": %.1f, \"budget\": \"%s\"}%s\n",
                   r.name.c_str(), r.unit.c_str(), r.ndl, r.raw, r.raw > 0 ? r.ndl / r.raw : 0.0,
                   r.budget_note_value, r.budget.c_str(), i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  return 0;
}
