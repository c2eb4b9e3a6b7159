/// @file cuda_entry.hpp
/// The CUDA entry points of a launch: `__global__` kernels instantiated per kernel in the
/// translation unit that launches it, and the host function that launches them.
///
/// Only a translation unit compiled by the CUDA compiler has these; elsewhere a launch record
/// has no CUDA entry and launching it on a CUDA queue raises `errc::unsupported`.
#pragma once

#include "ndl/detail/launch_record.hpp"

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "ndl/detail/cuda_kernels.hpp"

namespace ndl::detail {

/// The block size of a range kernel: the occupancy-optimal one up to 256 threads, computed
/// once per kernel.
template <class Payload, int Dim>
int cuda_range_block_size() {
  static const int block = [] {
    int min_grid = 0, size = 0;
    // At most 256 threads: on an H100 a memory-bound kernel streams 7% faster in blocks of
    // 256 than of 1024 (benchmarks/cuda_launch.cu), and kernels heavy in registers get less.
    if (cudaOccupancyMaxPotentialBlockSize(&min_grid, &size, cuda_range_kernel<Payload, Dim>, 0,
                                           256) != cudaSuccess ||
        size <= 0) {
      (void)cudaGetLastError();
      size = 256;
    }
    return size;
  }();
  return block;
}

/// Launches a range kernel; returns the CUDA error of the launch.
template <class Payload, int Dim>
int cuda_range_entry(const void* payload, const index_space& space, const cuda_launch& launch) {
  cuda_range_space<Dim> s{};
#if NDL_CHECKED
  s.check = launch.check;
#endif
  const size_t block = static_cast<size_t>(cuda_range_block_size<Payload, Dim>());
  const size_t blocks = cuda_range_setup<Dim>(space.global, block, s);
#if NDL_CHECKED
  constexpr size_t shared = check_dynamic_bytes(0);
#else
  constexpr size_t shared = 0;
#endif
  cuda_range_kernel<Payload, Dim>
      <<<static_cast<unsigned>(blocks), static_cast<unsigned>(block), shared,
         static_cast<cudaStream_t>(launch.stream)>>>(*static_cast<const Payload*>(payload), s);
  return static_cast<int>(cudaGetLastError());
}

/// Launches an nd-range kernel; returns the CUDA error of the launch.
template <class Payload, int Dim>
int cuda_nd_entry(const void* payload, const index_space& space, const cuda_launch& launch) {
  cuda_nd_space<Dim> s{};
#if NDL_CHECKED
  s.check = launch.check;
  // The check context goes after the local memory.
  const size_t shared = check_dynamic_bytes(launch.local_bytes);
#else
  const size_t shared = launch.local_bytes;
#endif
  unsigned block[3], grid[3];
  cuda_nd_setup<Dim>(space.global, space.local, s, grid, block);
  if (shared > 48 * 1024) {
    // Above the default 48 KB a kernel must opt in (per device: set it on every such launch).
    const cudaError_t e =
        cudaFuncSetAttribute(cuda_nd_kernel<Payload, Dim>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    if (e != cudaSuccess) return static_cast<int>(e);
  }
  cuda_nd_kernel<Payload, Dim>
      <<<dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]), shared,
         static_cast<cudaStream_t>(launch.stream)>>>(*static_cast<const Payload*>(payload), s);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace ndl::detail
#endif  // __CUDACC__
