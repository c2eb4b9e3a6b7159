/// @file barrier.hpp
/// `ndl::group_barrier`: synchronises the work-items of a work-group.
#pragma once

#include "ndl/kernel/group.hpp"
#include "ndl/kernel/memory_enums.hpp"

#if !defined(__CUDACC_RTC__)
#if __has_include(<source_location>)
#include <source_location>
#endif

#include "ndl/detail/work_group.hpp"
#endif

namespace ndl {

#if !defined(__CUDACC_RTC__)
namespace detail {
#if defined(__cpp_lib_source_location)
using barrier_site = std::source_location;
#else
/// Where a barrier is in the source (for compilers whose standard library lacks
/// std::source_location, such as clang before 15 with libstdc++).
struct barrier_site {
  const char* file_;
  unsigned line_;
  unsigned column_;
  static constexpr barrier_site current(const char* file = __builtin_FILE(),
                                        unsigned line = __builtin_LINE(),
                                        unsigned column = __builtin_COLUMN()) {
    return {file, line, column};
  }
  constexpr const char* file_name() const { return file_; }
  constexpr unsigned line() const { return line_; }
  constexpr unsigned column() const { return column_; }
};
#endif
}  // namespace detail
#endif

/// Waits until every work-item of `g` has reached this barrier; memory written before it
/// by any work-item of the group is visible to all after it.
///
/// Every work-item of a group must reach the same barriers in the same order. On the CPU
/// device a group whose work-items disagree (some returned while others wait, or they wait
/// at different barriers) fails the launch with `errc::kernel_failure` naming the group and
/// the work-items, instead of hanging. Barriers may sit in loops and in helper functions.
///
/// @code
/// tile(it.get_local_id(0)) = a[it.get_global_id(0)];
/// ndl::group_barrier(it.get_group());
/// @endcode
#if defined(__CUDACC_RTC__)
template <int Dim>
__device__ inline void group_barrier(const group<Dim>& /*g*/,
                                     memory_scope /*fence_scope*/ = memory_scope::work_group) {
  __syncthreads();
}
#else
// The source location identifies the barrier, so that the CPU device can tell work-items
// waiting at different barriers apart.
template <int Dim>
NDL_KERNEL_FN NDL_ALWAYS_INLINE void group_barrier(
    const group<Dim>& /*g*/, memory_scope /*fence_scope*/ = memory_scope::work_group,
    detail::barrier_site where = detail::barrier_site::current()) {
#if defined(__CUDA_ARCH__)
  (void)where;
  __syncthreads();
#else
  detail::cpu_group_barrier(where.file_name(), static_cast<int>(where.line()),
                            static_cast<int>(where.column()));
#endif
}
#endif

}  // namespace ndl
