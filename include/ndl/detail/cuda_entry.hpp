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

#include "ndl/kernel/nd_item.hpp"

namespace ndl::detail {

/// A range launch in the form the device reads: extents and their product.
template <int Dim>
struct cuda_range_space {
  size_t r[Dim];
  size_t total;
#if NDL_CHECKED
  check_context check;
#endif
};

/// An nd-range launch in the form the device reads: work-group extents and counts.
template <int Dim>
struct cuda_nd_space {
  size_t lr[Dim];  // local range
  size_t gr[Dim];  // number of work-groups in each dimension
#if NDL_CHECKED
  check_context check;
#endif
};

/// One thread per work-item in a grid-stride loop over linear ids (64-bit), so that any
/// number of work-items fits the grid limits.
template <class Payload, int Dim>
__global__ void cuda_range_kernel(const Payload p, const cuda_range_space<Dim> s) {
#if NDL_CHECKED
  check_begin(s.check);
#endif
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t lin = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; lin < s.total;
       lin += stride) {
    size_t id[Dim];
    if constexpr (Dim == 1) {
      id[0] = lin;
    } else {
      size_t rest = lin;
      for (int d = Dim - 1; d > 0; --d) {
        id[d] = rest % s.r[d];
        rest /= s.r[d];
      }
      id[0] = rest;
    }
    p.invoke_device(item_access::make_item<Dim>(id, s.r));
#if NDL_CHECKED
    check_end_item<Dim>(id);
#endif
  }
}

/// The dynamic shared memory of a block (its local accessors).
extern __shared__ __align__(16) unsigned char ndl_local_memory[];

/// Runs one work-item of an nd-range launch.
template <class Payload, int Dim>
__device__ NDL_ALWAYS_INLINE void cuda_nd_item(const Payload& p, const cuda_nd_space<Dim>& s,
                                               const size_t* lid, const size_t* gid) {
  p.invoke_device(item_access::make_nd_item<Dim>(lid, gid, s.lr, s.gr));
#if NDL_CHECKED
  size_t id[Dim];
  for (int d = 0; d < Dim; ++d)
    id[d] = gid[d] * s.lr[d] + lid[d];
  check_end_item<Dim>(id);
#endif
}

/// One block per work-group, the last dimension on `x`; blocks loop over work-groups when
/// there are more than the grid holds (the loop is uniform across the block, so barriers
/// inside the kernel stay valid).
template <class Payload, int Dim>
__global__ void cuda_nd_kernel(Payload p, const cuda_nd_space<Dim> s) {
#if NDL_CHECKED
  check_begin(s.check);
#endif
  if constexpr (Payload::has_local) p.bind_local(ndl_local_memory);
  size_t lid[Dim];
  const unsigned t[3] = {threadIdx.x, threadIdx.y, threadIdx.z};
  const unsigned b[3] = {blockIdx.x, blockIdx.y, blockIdx.z};
  const unsigned n[3] = {gridDim.x, gridDim.y, gridDim.z};
  for (int d = 0; d < Dim; ++d)
    lid[d] = t[Dim - 1 - d];
  size_t gid[Dim];
  // Dimension d runs on axis Dim - 1 - d.
  for (size_t g0 = b[Dim - 1]; g0 < s.gr[0]; g0 += n[Dim - 1]) {
    gid[0] = g0;
    if constexpr (Dim == 1) {
      cuda_nd_item(p, s, lid, gid);
    } else {
      for (size_t g1 = b[Dim - 2]; g1 < s.gr[1]; g1 += n[Dim - 2]) {
        gid[1] = g1;
        if constexpr (Dim == 2) {
          cuda_nd_item(p, s, lid, gid);
        } else {
          for (size_t g2 = b[0]; g2 < s.gr[2]; g2 += n[0]) {
            gid[Dim - 1] = g2;
            cuda_nd_item(p, s, lid, gid);
          }
        }
      }
    }
  }
}

/// The largest grid in each axis (x, y, z) of every CUDA device.
inline constexpr size_t cuda_grid_limit[3] = {2147483647u, 65535u, 65535u};

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
  s.total = 1;
  for (int d = 0; d < Dim; ++d) {
    s.r[d] = space.global[d];
    s.total *= space.global[d];
  }
  const size_t block = static_cast<size_t>(cuda_range_block_size<Payload, Dim>());
  size_t blocks = (s.total + block - 1) / block;
  if (blocks > cuda_grid_limit[0]) blocks = cuda_grid_limit[0];
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
  unsigned block[3] = {1, 1, 1};
  unsigned grid[3] = {1, 1, 1};
  for (int d = 0; d < Dim; ++d) {
    s.lr[d] = space.local[d];
    s.gr[d] = space.global[d] / space.local[d];
    const int axis = Dim - 1 - d;
    block[axis] = static_cast<unsigned>(space.local[d]);
    grid[axis] =
        static_cast<unsigned>(s.gr[d] < cuda_grid_limit[axis] ? s.gr[d] : cuda_grid_limit[axis]);
  }
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
