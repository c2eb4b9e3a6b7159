/// @file launch_record.hpp
/// The type-erased description of one launch, handed from the launch templates (or, later,
/// from kernels compiled at run time) to the runtime through one submission path.
#pragma once

#include <exception>
#include <memory>
#include <typeinfo>

#include "ndl/detail/checked.hpp"
#include "ndl/event.hpp"
#include "ndl/range.hpp"

namespace ndl {

/// The two events of an asynchronous launch (usable with structured bindings).
struct launch_events {
  /// Completes after the kernel, once the launcher released every argument it kept alive.
  event host_event;
  /// Completes when the kernel has finished.
  event device_event;
};

namespace detail {

class queue_impl;

/// A range or nd-range, type-erased.
struct index_space {
  int dims = 1;
  bool is_nd = false;
  size_t global[3] = {0, 0, 0};
  size_t local[3] = {1, 1, 1};  ///< all ones for a range launch

  /// The number of work-items.
  size_t work_items() const {
    size_t n = 1;
    for (int d = 0; d < dims; ++d)
      n *= global[d];
    return n;
  }
  /// The number of work-items in a work-group (1 for a range launch).
  size_t group_size() const {
    size_t n = 1;
    for (int d = 0; d < dims; ++d)
      n *= local[d];
    return n;
  }
};

/// Where a CPU chunk failed: the exception and the id of the work-item that threw.
struct cpu_failure {
  std::exception_ptr error;
  size_t id[3] = {0, 0, 0};
  bool divergence = false;  ///< the work-items of a group disagreed at a barrier
};

/// Runs the work-items (range launch) or work-groups (nd-range launch) with linear ids in
/// `[first, last)`. Returns false and fills `failure` when a work-item threw.
using cpu_entry_fn = bool (*)(const void* payload, const index_space& space, size_t first,
                              size_t last, cpu_failure& failure);

/// What the CUDA backend tells a launch's CUDA entry point.
struct cuda_launch {
  void* stream = nullptr;  ///< the cudaStream_t to launch on
  size_t local_bytes = 0;  ///< dynamic shared memory per block
#if NDL_CHECKED
  check_context check{};  ///< where the launch reports its first out-of-bounds access
#endif
};

/// Launches the kernel of a record on `launch.stream` (the device is already current);
/// returns the cudaError_t of the launch.
using cuda_entry_fn = int (*)(const void* payload, const index_space& space,
                              const cuda_launch& launch);

/// The argument-packing object of an asynchronous launch; destroying it releases every
/// argument the launch keeps alive.
class owned_payload {
 public:
  virtual ~owned_payload() = default;
};

/// One launch: the kernel and its packed arguments behind a pointer, the index space, and
/// one entry point per backend compiled into the launching translation unit.
struct kernel_record {
  const std::type_info* kernel_type = nullptr;  ///< names the kernel in messages
  const char* name = nullptr;                   ///< explicit name, or null to use the type
  index_space space;
  const void* payload = nullptr;
  size_t local_bytes = 0;  ///< work-group local memory the launch needs
  cpu_entry_fn cpu_entry = nullptr;
  cuda_entry_fn cuda_entry = nullptr;  ///< null unless compiled by the CUDA compiler
  bool cpu_only = false;               ///< marked ndl::cpu_only (or a function pointer)
#if NDL_CHECKED
  const std::type_info* const* arg_types = nullptr;  ///< the kernel arguments' types
#endif
};

/// Validates and runs `record` on `q`, blocking until it has finished.
/// @throws ndl::error the launch's error.
NDL_API void submit_sync(const std::shared_ptr<queue_impl>& q, const kernel_record& record);

/// Validates and submits `record` on `q` after `deps`; `payload` (which `record.payload`
/// points into) is destroyed after the kernel, before the host event completes.
NDL_API launch_events submit_async(const std::shared_ptr<queue_impl>& q,
                                   const kernel_record& record,
                                   std::unique_ptr<owned_payload> payload, event_list deps);

/// Throws invalid_argument: a local_accessor argument in a range launch.
[[noreturn]] NDL_API void throw_local_with_range(const std::type_info& kernel, const char* name,
                                                 const index_space& space);

/// Throws invalid_argument: argument `position` is an array with no memory.
[[noreturn]] NDL_API void throw_empty_array_argument(int position, const std::type_info& type);

/// One array argument's placement, for queue inference.
struct arg_placement {
  int position;                ///< 0-based position among the kernel arguments
  const std::type_info* type;  ///< the argument's type
  queue_impl* queue;           ///< its queue
};

/// Picks the queue of a launch from its array arguments (compute follows data); the default
/// queue when there are none.
/// @throws ndl::error (errc::queue_inference) naming each argument and its queue.
NDL_API std::shared_ptr<queue_impl> infer_queue(const std::type_info& kernel, const char* name,
                                                const arg_placement* args, size_t count);

/// Checks that every array argument can be used on the explicit queue `q`.
/// @throws ndl::error (errc::invalid_argument) naming the argument and both devices.
NDL_API void check_arg_devices(const std::shared_ptr<queue_impl>& q, const std::type_info& kernel,
                               const char* name, const arg_placement* args, size_t count);

}  // namespace detail
}  // namespace ndl
