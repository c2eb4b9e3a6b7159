/// @file work_group.hpp
/// The interface between the CPU entry points of nd-range launches (templates) and the
/// work-group engine in the runtime (src/cpu/work_group_runner.cpp). Host-only.
#pragma once

#include <exception>

#include "ndl/config.hpp"
#include "ndl/range.hpp"

namespace ndl::detail {

struct group_fibers;

/// Thrown on the worker's own stack when a group fails: a work-item threw, or the
/// work-items disagreed at a barrier. Caught by the entry point.
struct group_failure {
  std::exception_ptr error;  ///< the work-item's exception or an ndl::error(kernel_failure)
  size_t local_linear_id;    ///< the work-item that threw, or the first one involved
  bool divergence;           ///< true when the work-items disagreed at a barrier
};

/// One work-group being run by a CPU worker; lives on the entry point's stack.
///
/// The group starts as a plain loop over its work-items. If work-item 0 reaches
/// group_barrier, the engine switches the group to one fiber per work-item (`fibers`
/// becomes non-null) and from then on runs them in lock-step from barrier to barrier.
struct group_frame {
  /// Runs work-item `local_linear_id` of this group to completion (or to a barrier).
  void (*run_item)(const group_frame& frame, size_t local_linear_id) = nullptr;
  const void* context = nullptr;  ///< what run_item needs (the entry point's state)
  size_t size = 0;                ///< work-items in the group
  int dims = 1;
  size_t group_id[3] = {0, 0, 0};
  size_t current = 0;              ///< loop mode: the work-item running now
  group_fibers* fibers = nullptr;  ///< fiber mode: the engine's state
  /// Set when the group failed; rethrown if a kernel swallows the failure and goes on.
  bool failed = false;
  group_failure failure{};
  group_frame* outer = nullptr;  ///< the frame this thread ran before (nested waits)
};

/// Makes `frame` the current group of this thread (until leave_group).
NDL_API void enter_group(group_frame& frame) noexcept;
/// Restores the previous current group.
NDL_API void leave_group(group_frame& frame) noexcept;
/// Called when work-item 0 has returned and the group is in fiber mode (or has failed):
/// runs the other work-items to the end. Throws group_failure.
NDL_API void finish_fiber_group(group_frame& frame);
/// Called when a group fails on the worker's stack (a work-item threw): destroys the
/// fibers of a group in fiber mode. Does nothing in loop mode.
NDL_API void abandon_group(group_frame& frame) noexcept;
/// group_barrier on the CPU device: `file`, `line` and `column` identify the barrier.
NDL_API void cpu_group_barrier(const char* file, int line, int column);

/// A block of work-group local memory for the calling thread (the device's local memory
/// size, 64-byte aligned), reused across launches; released with release_local_arena().
NDL_API void* acquire_local_arena();
/// Returns the block from acquire_local_arena().
NDL_API void release_local_arena(void* arena) noexcept;

}  // namespace ndl::detail
