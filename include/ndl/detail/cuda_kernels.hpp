/// @file cuda_kernels.hpp
/// The device side of CUDA launches: the bodies of the range and nd-range kernels and the
/// forms in which the device reads an index space (those are plain structs, also
/// seen by host code that launches run-time kernels).
///
/// Shared by the launches that nvcc compiles (cuda_entry.hpp wraps these bodies in `__global__`
/// templates instantiated per kernel) and by kernels compiled at run time with NVRTC
/// (rt_kernel.hpp gives them an `extern "C"` entry), so it includes only headers that NVRTC
/// can compile.
#pragma once

#include "ndl/detail/checked.hpp"
#include "ndl/range.hpp"

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

/// The largest grid in each axis (x, y, z) of every CUDA device.
inline constexpr size_t cuda_grid_limit[3] = {2147483647u, 65535u, 65535u};

/// Fills the device form of a range launch over `global`; returns its number of blocks of
/// `block` threads (one thread per work-item, at most the grid's limit: threads then loop).
template <int Dim>
size_t cuda_range_setup(const size_t* global, size_t block, cuda_range_space<Dim>& s) {
  s.total = 1;
  for (int d = 0; d < Dim; ++d) {
    s.r[d] = global[d];
    s.total *= global[d];
  }
  const size_t blocks = (s.total + block - 1) / block;
  return blocks < cuda_grid_limit[0] ? blocks : cuda_grid_limit[0];
}

/// Fills the device form of an nd-range launch and its grid and block extents (x, y, z):
/// dimension d on axis Dim - 1 - d, one block per work-group up to the grid's limits (blocks
/// then loop over work-groups).
template <int Dim>
void cuda_nd_setup(const size_t* global, const size_t* local, cuda_nd_space<Dim>& s, unsigned* grid,
                   unsigned* block) {
  for (int a = 0; a < 3; ++a)
    grid[a] = block[a] = 1;
  for (int d = 0; d < Dim; ++d) {
    s.lr[d] = local[d];
    s.gr[d] = global[d] / local[d];
    const int axis = Dim - 1 - d;
    block[axis] = static_cast<unsigned>(local[d]);
    grid[axis] =
        static_cast<unsigned>(s.gr[d] < cuda_grid_limit[axis] ? s.gr[d] : cuda_grid_limit[axis]);
  }
}

}  // namespace ndl::detail

#if defined(__CUDACC__)
#include "ndl/kernel/nd_item.hpp"

namespace ndl::detail {

/// The body of a range launch: one thread per work-item in a grid-stride loop over linear ids
/// (64-bit), so that any number of work-items fits the grid limits.
template <class Payload, int Dim>
__device__ NDL_ALWAYS_INLINE void cuda_range_body(const Payload& p,
                                                  const cuda_range_space<Dim>& s) {
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

/// The body of an nd-range launch: one block per work-group, the last dimension on `x`; blocks loop
/// over work-groups when there are more than the grid holds (the loop is uniform across the block,
/// so barriers inside the kernel stay valid).
template <class Payload, int Dim>
__device__ NDL_ALWAYS_INLINE void cuda_nd_body(Payload& p, const cuda_nd_space<Dim>& s) {
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

/// A range launch's kernel: one instantiation per kernel and dimension.
template <class Payload, int Dim>
__global__ void cuda_range_kernel(const Payload p, const cuda_range_space<Dim> s) {
  cuda_range_body<Payload, Dim>(p, s);
}

/// An nd-range launch's kernel: one instantiation per kernel and dimension.
template <class Payload, int Dim>
__global__ void cuda_nd_kernel(Payload p, const cuda_nd_space<Dim> s) {
  cuda_nd_body<Payload, Dim>(p, s);
}

}  // namespace ndl::detail
#endif  // __CUDACC__
