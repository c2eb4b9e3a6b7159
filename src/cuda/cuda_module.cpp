// Kernels compiled at run time for CUDA devices: NVRTC compiles the kernel source to a cubin
// for the device's architecture; the cubin is loaded as a CUDA library and launched through
// one entry point that reads the type-erased arguments (rt_arg) and the index space.
#include <nvrtc.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "ndl/detail/cuda_kernels.hpp"
#include "ndl/error.hpp"

#ifndef NDL_CUDA_INCLUDE_DIR
#define NDL_CUDA_INCLUDE_DIR "/usr/local/cuda/include"
#endif

namespace ndl::cuda {

namespace {

/// The CUDA headers NVRTC needs (libcu++ for atomics): NDL_CUDA_INCLUDE, else the toolkit's
/// include directory of the build, else CUDA_HOME's.
std::string cuda_include_dir() {
  if (const char* e = std::getenv("NDL_CUDA_INCLUDE"); e && *e) return e;
  return NDL_CUDA_INCLUDE_DIR;
}

std::string arch_of(const cuda_device& d) {
  return "sm_" + std::to_string(d.props.major) + std::to_string(d.props.minor);
}

std::vector<std::string> nvrtc_flags(const cuda_device& d) {
  const std::string inc = cuda_include_dir();
  return {"-std=c++20",         "--gpu-architecture=" + arch_of(d),
          "-default-device",    "-DNDL_CHECKED=" + std::to_string(NDL_CHECKED),
          "-I" + inc + "/cccl", "-I" + inc};
}

/// The payload of a run-time kernel's launch: the kernel, then its arguments.
struct rt_cuda_payload {
  const rt_cuda_kernel* kernel;
  detail::rt_arg args[1];  // rt_cuda_payload_bytes(n) holds max(n, 1) of them
};

size_t rt_cuda_payload_bytes(int nargs) {
  return offsetof(rt_cuda_payload, args) + sizeof(detail::rt_arg) * (nargs > 0 ? nargs : 1);
}

void rt_cuda_build(const detail::rt_kernel& self, const detail::rt_arg* args, void* storage) {
  auto* p = static_cast<rt_cuda_payload*>(storage);
  p->kernel = static_cast<const rt_cuda_kernel*>(self.context);
  if (self.nargs > 0) std::memcpy(p->args, args, sizeof(detail::rt_arg) * self.nargs);
}

void rt_cuda_destroy(void*) {}

template <int Dim>
cudaError_t launch_range(const rt_cuda_kernel& k, void* args, const detail::index_space& space,
                         const detail::cuda_launch& launch) {
  detail::cuda_range_space<Dim> s{};
#if NDL_CHECKED
  s.check = launch.check;
  const size_t shared = detail::check_dynamic_bytes(0);
#else
  const size_t shared = 0;
#endif
  const auto block = static_cast<size_t>(k.block);
  const size_t blocks = detail::cuda_range_setup<Dim>(space.global, block, s);
  void* params[] = {args, &s};
  return cudaLaunchKernel(reinterpret_cast<const void*>(k.kernel),
                          dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(block)),
                          params, shared, static_cast<cudaStream_t>(launch.stream));
}

template <int Dim>
cudaError_t launch_nd(const rt_cuda_kernel& k, void* args, const detail::index_space& space,
                      const detail::cuda_launch& launch) {
  detail::cuda_nd_space<Dim> s{};
#if NDL_CHECKED
  s.check = launch.check;
  const size_t shared = detail::check_dynamic_bytes(launch.local_bytes);
#else
  const size_t shared = launch.local_bytes;
#endif
  unsigned block[3], grid[3];
  detail::cuda_nd_setup<Dim>(space.global, space.local, s, grid, block);
  const void* fn = reinterpret_cast<const void*>(k.kernel);
  if (shared > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(shared));
    if (e != cudaSuccess) return e;
  }
  void* params[] = {args, &s};
  return cudaLaunchKernel(fn, dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]),
                          params, shared, static_cast<cudaStream_t>(launch.stream));
}

/// The CUDA entry of every run-time kernel (see kernel_record::cuda_entry).
int rt_cuda_entry(const void* payload, const detail::index_space& space,
                  const detail::cuda_launch& launch) {
  const auto* p = static_cast<const rt_cuda_payload*>(payload);
  const rt_cuda_kernel& k = *p->kernel;
  void* args = const_cast<detail::rt_arg*>(p->args);
  cudaError_t e = cudaErrorInvalidValue;
  if (!space.is_nd) {
    switch (space.dims) {
      case 1:
        e = launch_range<1>(k, args, space, launch);
        break;
      case 2:
        e = launch_range<2>(k, args, space, launch);
        break;
      case 3:
        e = launch_range<3>(k, args, space, launch);
        break;
    }
  } else {
    switch (space.dims) {
      case 1:
        e = launch_nd<1>(k, args, space, launch);
        break;
      case 2:
        e = launch_nd<2>(k, args, space, launch);
        break;
      case 3:
        e = launch_nd<3>(k, args, space, launch);
        break;
    }
  }
  return static_cast<int>(e);
}

void nvrtc_check(nvrtcResult r, const char* call) {
  if (r != NVRTC_SUCCESS)
    detail::throw_error(errc::backend_failure,
                        std::string(call) + " failed: " + nvrtcGetErrorString(r));
}

}  // namespace

void cuda_backend::synchronize_device(int ordinal) {
  cuda_device& d = *devices_[static_cast<size_t>(ordinal)];
  d.health.check(d.filter.c_str());
  d.make_current();
  NDL_CUDA_CHECK(d, cudaDeviceSynchronize());
}

std::string cuda_backend::compile_module(int ordinal, const std::string& source,
                                         const std::vector<std::string>& options) {
  const cuda_device& d = *devices_[static_cast<size_t>(ordinal)];
  nvrtcProgram prog = nullptr;
  nvrtc_check(nvrtcCreateProgram(&prog, source.c_str(), "ndl_kernel.cu", 0, nullptr, nullptr),
              "nvrtcCreateProgram");
  struct destroy {
    nvrtcProgram& p;
    ~destroy() { nvrtcDestroyProgram(&p); }
  } guard{prog};
  std::vector<std::string> flags = nvrtc_flags(d);
  flags.insert(flags.end(), options.begin(), options.end());
  std::vector<const char*> argv;
  for (const auto& f : flags)
    argv.push_back(f.c_str());
  const nvrtcResult r = nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    std::string log;
    if (nvrtcGetProgramLogSize(prog, &n) == NVRTC_SUCCESS && n > 1) {
      log.resize(n);
      nvrtcGetProgramLog(prog, log.data());
      log.resize(n - 1);
    }
    if (log.size() > 16384) log = log.substr(0, 16384) + "\n[... log truncated]";
    std::string cmd;
    for (const auto& f : flags)
      cmd += " " + f;
    detail::throw_error(errc::compile_failure, "the kernel did not compile for " + d.filter +
                                                   " (NVRTC: " + nvrtcGetErrorString(r) + ";" +
                                                   cmd + ")\n" + log);
  }
  size_t size = 0;
  nvrtc_check(nvrtcGetCUBINSize(prog, &size), "nvrtcGetCUBINSize");
  std::string image(size, '\0');
  nvrtc_check(nvrtcGetCUBIN(prog, image.data()), "nvrtcGetCUBIN");
  return image;
}

std::string cuda_backend::compiler_id(int ordinal) {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  std::string id = "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
  for (const auto& f : nvrtc_flags(*devices_[static_cast<size_t>(ordinal)]))
    id += " " + f;
  return id;
}

const detail::rt_kernel* cuda_backend::load_module(int ordinal, const std::string& image,
                                                   const detail::rt_signature& signature) {
  cuda_device& d = *devices_[static_cast<size_t>(ordinal)];
  d.health.check(d.filter.c_str());
  d.make_current();
  auto k = std::make_unique<rt_cuda_kernel>();
  k->name = signature.name ? signature.name : "";
  NDL_CUDA_CHECK(
      d, cudaLibraryLoadData(&k->library, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  struct unload_on_failure {
    rt_cuda_kernel* k;
    ~unload_on_failure() {
      if (k) (void)cudaLibraryUnload(k->library);
    }
  } guard{k.get()};
  // What the image was compiled for (NDL_RT_KERNEL writes it): the loader's answer, which
  // load_rt_module compares with what the launcher asked for.
  void* table = nullptr;
  size_t table_bytes = 0;
  if (cudaLibraryGetGlobal(&table, &table_bytes, k->library, "ndl_rt_signature") != cudaSuccess ||
      table_bytes < 4 * sizeof(unsigned short)) {
    (void)cudaGetLastError();
    detail::throw_error(
        errc::invalid_argument,
        "kernel '" + k->name + "': the image has no ndl_rt_signature (not made by NDL_RT_KERNEL)");
  }
  std::vector<unsigned short> sig(table_bytes / sizeof(unsigned short));
  NDL_CUDA_CHECK(d, cudaMemcpy(sig.data(), table, table_bytes, cudaMemcpyDeviceToHost));
  if (sig.size() != 4 + static_cast<size_t>(sig[3]))
    detail::throw_error(errc::invalid_argument,
                        "kernel '" + k->name + "': the image's ndl_rt_signature is malformed");
  k->codes.assign(sig.begin() + 4, sig.end());
  NDL_CUDA_CHECK(d, cudaLibraryGetKernel(&k->kernel, k->library, "ndl_rt_entry"));
  int min_grid = 0, block = 0;
  // As for compiled kernels (cuda_entry.hpp): the occupancy-optimal size up to 256 threads.
  if (cudaOccupancyMaxPotentialBlockSize(
          &min_grid, &block, reinterpret_cast<const void*>(k->kernel), 0, 256) == cudaSuccess &&
      block > 0)
    k->block = block;
  else
    (void)cudaGetLastError();
  detail::rt_kernel& info = k->info;
  info.abi = sig[0];
  info.checked = sig[1];
  info.name = k->name.c_str();
  info.dims = sig[2] & 15;
  info.is_nd = (sig[2] & 16) != 0;
  info.nargs = sig[3];
  info.arg_codes = k->codes.data();
  info.payload_size = rt_cuda_payload_bytes(info.nargs);
  info.payload_align = alignof(rt_cuda_payload);
  info.build = &rt_cuda_build;
  info.destroy = &rt_cuda_destroy;
  info.cuda_entry = &rt_cuda_entry;
  info.context = k.get();
  guard.k = nullptr;
  std::lock_guard lock(modules_mutex_);
  modules_.push_back(std::move(k));
  return &modules_.back()->info;
}

}  // namespace ndl::cuda
