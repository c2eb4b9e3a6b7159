/// @file checked.hpp
/// Checked mode (`NDL_CHECKED`): what an out-of-bounds `ndl::view` access does on each device.
///
/// On the CPU the access throws `ndl::error` (errc::kernel_failure); the launch reports it with
/// the kernel's name and the work-item. A CUDA kernel cannot throw: the first out-of-bounds
/// access of a launch is written to a slot of the launch (host-mapped memory), the access
/// reads or writes a per-type dummy element instead, the kernel runs on, and the backend
/// fails the launch with the same message once it has finished. The device stays usable.
#pragma once

#if !defined(__CUDACC_RTC__)
#include <cstddef>
#endif

#include "ndl/config.hpp"

#if !defined(__CUDACC_RTC__)
namespace ndl::detail {
// A checked view is larger than an unchecked one, so every translation unit of a program must
// be built in the library's mode. Each one references the symbol only a library of its own
// mode defines: a mismatch fails to link, naming the mode the translation unit expected
// ("undefined reference to ndl::detail::library_built_with_NDL_CHECKED"), instead of
// corrupting kernel arguments at run time.
#if NDL_CHECKED
NDL_API extern const int library_built_with_NDL_CHECKED;
[[gnu::used]] inline const int* const build_mode_tag = &library_built_with_NDL_CHECKED;
#else
NDL_API extern const int library_built_without_NDL_CHECKED;
[[gnu::used]] inline const int* const build_mode_tag = &library_built_without_NDL_CHECKED;
#endif
}  // namespace ndl::detail
#endif  // !__CUDACC_RTC__

#if NDL_CHECKED
#include <typeinfo>

#if defined(__CUDACC__)
#include <cstdio>
#endif

namespace ndl::detail {

/// The first out-of-bounds access of a CUDA launch, as the device writes it (host-mapped
/// memory; one slot per launch in flight).
struct check_slot {
  /// The launch's tag, written last (after a system fence): the other fields are valid when
  /// it equals the launch's tag.
  unsigned long long tag;
  int arg;           ///< argument position (0-based), or -1 for a view that is not one
  int rank;          ///< the view's number of dimensions
  size_t index[3];   ///< the indices of the access
  size_t extent[3];  ///< the view's extents
  size_t item[3];    ///< the global id of the work-item
};

/// What a CUDA kernel of a checked build knows about its launch (a kernel parameter, copied
/// to shared memory by the entry point at the start of each block).
struct check_context {
  unsigned long long magic;   ///< check_magic: set by ndlaunch launches only
  unsigned long long* claim;  ///< device memory: the tag of the last launch to take `slot`
  check_slot* slot;           ///< where this launch reports (device pointer)
  unsigned long long tag;     ///< this launch's tag (never 0)
  unsigned hit;  ///< 1 + the thread of the block that took the slot, until its item is written
};

/// Marks a check_context set up by an ndlaunch entry point (shared memory is not cleared).
inline constexpr unsigned long long check_magic = 0x6e646c636865636bull;  // "ndlcheck"

/// Shared memory a CUDA kernel of a checked build reserves for its check_context (the
/// device reports that much less local memory).
inline constexpr size_t check_shared_bytes = 128;

/// The dynamic shared memory of a checked CUDA launch with `local_bytes` of local memory: the
/// local memory first (so its base keeps the alignment of the dynamic shared memory; a
/// static __shared__ context would shift it), then the check_context, 16-byte aligned.
constexpr size_t check_dynamic_bytes(size_t local_bytes) {
  return (local_bytes + 15) / 16 * 16 + sizeof(check_context);
}
static_assert(check_dynamic_bytes(0) + 15 <= check_shared_bytes);

/// Throws kernel_failure for an out-of-bounds access to a view on the host.
[[noreturn]] NDL_API void throw_out_of_bounds(int arg, const std::type_info& view_type, int rank,
                                              const size_t* index, const size_t* extent);

#if defined(__CUDACC__)
/// The block's dynamic shared memory (declared again in cuda_entry.hpp).
extern __shared__ __align__(16) unsigned char ndl_local_memory[];

/// The launch's check_context, at the end of the block's dynamic shared memory (see
/// check_dynamic_bytes), or null in a kernel launched with too little of it to hold one.
__device__ inline check_context* check_ctx() {
  unsigned bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
  if (bytes < sizeof(check_context)) return nullptr;
  return reinterpret_cast<check_context*>(ndl_local_memory +
                                          ((bytes - sizeof(check_context)) & ~15u));
}

/// The calling thread's linear id in its block.
__device__ inline unsigned check_thread_in_block() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

/// Called by each entry point before any work-item runs: publishes the launch's context to
/// the block.
__device__ inline void check_begin(const check_context& launch) {
  if (check_thread_in_block() == 0) *check_ctx() = launch;
  __syncthreads();
}

/// Called by each entry point after a work-item returned: if that work-item took the launch's
/// slot, it writes its global id and then the tag, which makes the slot valid.
template <int Dim>
__device__ NDL_ALWAYS_INLINE void check_end_item(const size_t* id) {
  check_context& c = *check_ctx();
  if (NDL_UNLIKELY(c.hit == check_thread_in_block() + 1)) {
    c.hit = 0;
    volatile check_slot* s = c.slot;
    for (int d = 0; d < Dim; ++d)
      s->item[d] = id[d];
    // The slot is host memory: make its fields visible before the tag that validates them.
    __threadfence_system();
    s->tag = c.tag;
  }
}

/// Records an out-of-bounds access on the device: the first of the launch takes its slot.
__device__ __noinline__ inline void record_out_of_bounds(int arg, int rank, const size_t* index,
                                                         const size_t* extent) {
  check_context* ctx = check_ctx();
  if (!ctx || ctx->magic != check_magic) {
    // A view used in a kernel that ndlaunch did not launch: nobody would read a slot.
    printf(
        "ndl: out-of-bounds access to a view (argument %d, index %llu of extent %llu in "
        "dimension 0) outside an ndlaunch launch\n",
        arg, static_cast<unsigned long long>(index[0]), static_cast<unsigned long long>(extent[0]));
    return;
  }
  // Only the first access of the launch reports; the exchange pairs with nothing else (each
  // launch has its own tag, so no reset is needed).
  check_context& c = *ctx;
  if (atomicExch(c.claim, c.tag) == c.tag) return;
  volatile check_slot* s = c.slot;
  s->arg = arg;
  s->rank = rank;
  for (int d = 0; d < rank; ++d) {
    s->index[d] = index[d];
    s->extent[d] = extent[d];
  }
  c.hit = check_thread_in_block() + 1;
}

/// The element an out-of-bounds access reads or writes on the device instead (shared by
/// every thread: its value is meaningless, it only keeps the kernel away from other memory).
template <class T>
__device__ T& check_dummy() {
  alignas(T) static __device__ unsigned char dummy[sizeof(T)];
  return *reinterpret_cast<T*>(dummy);
}
#endif  // __CUDACC__

/// Keeps the failure path out of the kernel's loops (which then stay small and vectorisable).
#if defined(__CUDACC__)
#define NDL_CHECK_COLD __noinline__
#elif defined(__GNUC__) || defined(__clang__)
#define NDL_CHECK_COLD __attribute__((noinline, cold))
#else
#define NDL_CHECK_COLD
#endif

/// An out-of-bounds access: throws on the host; records it and returns a dummy on a GPU.
template <class T, class View>
NDL_CHECK_COLD NDL_KERNEL_FN T& out_of_bounds(int arg, int rank, const size_t* index,
                                              const size_t* extent) {
#if defined(__CUDA_ARCH__)
  record_out_of_bounds(arg, rank, index, extent);
  return check_dummy<T>();
#else
  throw_out_of_bounds(arg, typeid(View), rank, index, extent);
#endif
}

}  // namespace ndl::detail
#endif  // NDL_CHECKED
