// The internal interface every backend implements. The runtime (src/core) talks to devices
// only through it; backends never include each other.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ndl/device.hpp"
#include "ndl/memory/usm.hpp"

namespace ndl::detail {

struct command;
class progress;
struct rt_kernel;
struct rt_signature;

/// What a backend reports about one of its devices.
struct device_info {
  std::string name;
  device_kind kind = device_kind::cpu;
  unsigned compute_units = 1;
  size_t max_work_group_size = 1;
  size_t local_memory_bytes = 0;
  /// The largest work-group extent in the last, second-to-last and third-to-last dimension
  /// (CUDA's block limits in x, y, z).
  size_t max_local_range[3] = {1, 1, 1};
};

/// A family of devices driven the same way (the CPU thread pool, CUDA).
class backend {
 public:
  virtual ~backend() = default;

  /// Which backend this is.
  virtual backend_kind kind() const = 0;

  /// The devices, in ordinal order; called once at start-up.
  virtual std::vector<device_info> devices() = 0;

  /// Allocates `bytes` (> 0) of `kind` memory for device `ordinal`; null when out of memory.
  virtual void* allocate(int ordinal, usm_kind kind, size_t bytes) = 0;

  /// Frees memory from allocate().
  virtual void deallocate(int ordinal, usm_kind kind, void* ptr) noexcept = 0;

  /// True when the backend orders commands on the device itself (streams): submissions then
  /// hand over commands whose dependencies are only enqueued there (command::device_waits),
  /// and the commands of an in-order queue run in submission order on the device.
  virtual bool orders_on_device() const { return false; }

  /// Per-queue state (CUDA streams), created with each queue; null when not needed.
  virtual std::shared_ptr<void> make_queue_state(int /*ordinal*/, bool /*in_order*/) {
    return nullptr;
  }

  /// Runs a command whose dependencies have all completed. The backend must eventually call
  /// `finish_command(cmd)` exactly once, from any thread. (By reference: the caller holds the
  /// command throughout; a backend copies it where it keeps it.)
  virtual void execute(const std::shared_ptr<command>& cmd) = 0;

  /// A thread is about to wait for every command of the queue with `queue_state` (from
  /// make_queue_state): a backend that notices completions lazily should notice them soon.
  virtual void flush_queue(void* /*queue_state*/) noexcept {}

  /// As flush_queue(), for every queue of the backend.
  virtual void flush_all() noexcept {}

  /// Runs one piece of queued work on the calling thread, if there is any; returns whether
  /// it did. Waiting threads call it so that blocking never starves the backend.
  virtual bool help_one() = 0;

  /// True when some queued work could be run by help_one().
  virtual bool has_work() const = 0;

  /// Compiles kernel source (C++ against the kernel API, ending in an NDL_RT_KERNEL line) for
  /// device `ordinal`; returns the image load_module() takes. `options` are added to the
  /// compiler's (include directories, definitions).
  /// @throws ndl::error (errc::compile_failure) with the compiler's log.
  virtual std::string compile_module(int ordinal, const std::string& source,
                                     const std::vector<std::string>& options) = 0;

  /// Who compiles for device `ordinal`, with which target and flags: part of the key under
  /// which compiled images may be cached.
  virtual std::string compiler_id(int ordinal) = 0;

  /// Waits until device `ordinal` has finished all its work, including work other libraries
  /// enqueued on it (their CUDA streams): a device-wide barrier for sharing memory with them.
  virtual void synchronize_device(int /*ordinal*/) {}

  /// Loads an image made by compile_module() for device `ordinal`, whose kernel has
  /// `signature`. Loaded kernels stay loaded until the process ends.
  /// @throws ndl::error (errc::invalid_argument) for an image that is not such a kernel.
  virtual const rt_kernel* load_module(int ordinal, const std::string& image,
                                       const rt_signature& signature) = 0;
};

/// Creates the backends compiled into this build (defined in backends.cpp).
std::vector<std::unique_ptr<backend>> create_backends(progress& waiter);

}  // namespace ndl::detail
