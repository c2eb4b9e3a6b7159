// USM on CUDA devices: device memory (cudaMalloc), shared memory (managed) and host memory
// (pinned).
#include <cstdio>

#include "cuda/cuda_backend.hpp"
#include "ndl/error.hpp"

namespace ndl::cuda {

void* cuda_backend::allocate(int ordinal, usm_kind kind, size_t bytes) {
  cuda_device& dev = *devices_[static_cast<size_t>(ordinal)];
  dev.health.check(dev.filter.c_str());
  dev.make_current();
  void* p = nullptr;
  cudaError_t e = cudaSuccess;
  switch (kind) {
    case usm_kind::device:
      e = cudaMalloc(&p, bytes);
      break;
    case usm_kind::shared:
      e = cudaMallocManaged(&p, bytes, cudaMemAttachGlobal);
      break;
    case usm_kind::host:
      e = cudaMallocHost(&p, bytes);
      break;
  }
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // not sticky: clear it, the caller raises out_of_memory
    return nullptr;
  }
  NDL_CUDA_CHECK(dev, e);
  return p;
}

void cuda_backend::deallocate(int ordinal, usm_kind kind, void* ptr) noexcept {
  cuda_device& dev = *devices_[static_cast<size_t>(ordinal)];
  dev.make_current();
  const cudaError_t e = kind == usm_kind::host ? cudaFreeHost(ptr) : cudaFree(ptr);
  // A lost device or CUDA unloading at exit: the memory goes with the context.
  if (e != cudaSuccess && e != cudaErrorCudartUnloading && !dev.health.is_lost() && !is_sticky(e))
    std::fprintf(stderr, "ndl: freeing %p on %s failed: %s\n", ptr, dev.filter.c_str(),
                 cudaGetErrorName(e));
}

}  // namespace ndl::cuda
