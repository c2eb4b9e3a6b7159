// A command: one kernel launch, copy or fill submitted to a queue, with its two events and
// its dependency bookkeeping.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/event_state.hpp"
#include "ndl/detail/launch_record.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

class queue_impl;

enum class command_kind {
  kernel,         // record (+ payload for async launches)
  copy,           // bytes from src to dst
  fill,           // count copies of a pattern
  strided_read,   // strided array -> contiguous row-major
  strided_write,  // contiguous row-major -> strided array
};

/// The readable name of a type (kernel types in messages).
std::string demangle(const std::type_info& t);

/// Command objects alive, for leak checks (get_runtime_stats()). Counting starts with the
/// first get_runtime_stats() call, so that launches pay for it only in programs that ask: a
/// command counts itself if counting was on when it was made. Relaxed: counts read by tests
/// after they have waited, which orders them; nothing else depends on them.
extern std::atomic<bool> count_commands;
extern std::atomic<long> live_commands;

struct command {
  command(command_kind k, std::shared_ptr<queue_impl> q, bool profiling)
      : kind(k),
        queue(std::move(q)),
        device_event(profiling),
        host_event(profiling),
        counted(count_commands.load(std::memory_order_relaxed)) {
    device_event.owner = this;
    host_event.owner = this;
    if (counted) live_commands.fetch_add(1, std::memory_order_relaxed);
  }
  ~command() {
    if (release_marker) release_marker(*this);
    if (counted) live_commands.fetch_sub(1, std::memory_order_relaxed);
  }
  command(const command&) = delete;
  command& operator=(const command&) = delete;

  command_kind kind;
  std::shared_ptr<queue_impl> queue;  // keeps the queue alive while the command is in flight
  const queue_impl* submitted_to = queue.get();  // the queue, still readable once finished

  // kernel
  kernel_record record;
  std::unique_ptr<owned_payload> payload;  // async launches only
  std::shared_ptr<const void> keep_alive;  // array copies: the array's allocation

  // copies and fills
  void* dst = nullptr;
  const void* src = nullptr;
  size_t bytes = 0;                               // copy: bytes; fill: element count
  unsigned char pattern_inline[64] = {};          // fill patterns up to 64 bytes
  std::unique_ptr<unsigned char[]> pattern_heap;  // larger ones
  const unsigned char* pattern = pattern_inline;
  size_t pattern_size = 0;

  void set_pattern(const void* p, size_t n) {
    unsigned char* out = pattern_inline;
    if (n > sizeof(pattern_inline)) {
      pattern_heap = std::make_unique<unsigned char[]>(n);
      out = pattern_heap.get();
    }
    std::memcpy(out, p, n);
    pattern = out;
    pattern_size = n;
  }
  size_t elem_size = 0;  // strided copies
  int dims = 0;
  size_t shape[3] = {1, 1, 1};
  ptrdiff_t strides[3] = {0, 0, 0};

  event_state device_event;  // the command has run
  event_state host_event;    // ...and released what it kept alive
  const bool counted;        // in live_commands (counting was on when it was made)

  // Dependencies not yet complete, plus one held by the submitter until it has registered
  // them all (so that the command cannot start half-registered).
  std::atomic<int> pending{1};
  std::mutex failure_mutex;
  std::exception_ptr dependency_error;  // root cause of the first failed explicit dependency
  std::exception_ptr failure;           // first failure while running
  std::atomic<bool> cancelled{false};   // set on failure: later chunks are skipped
  bool run_inline = false;  // a synchronous launch: a one-chunk command may run in place

  // Ordering on the device, for backends that order commands there (CUDA). A dependency
  // already enqueued on such a device is not waited for on the host: it is listed in
  // device_waits (each entry aliases its command) and the backend orders this command after
  // it on the device.
  std::vector<std::shared_ptr<event_state>> device_waits;
  // Set (release) by the backend once the command is enqueued on its device, after the
  // fields below; read (acquire) by later submissions and by flush_completion().
  std::atomic<bool> enqueued{false};
  void* device_stream = nullptr;        // where the command was enqueued
  const void* enqueued_by = nullptr;    // the backend that enqueued it
  void* device_track = nullptr;         // the backend's record of that stream
  std::uint64_t device_seq = 0;         // the command's position on that stream
  void* device_marker = nullptr;        // profiling queues: recorded after the command
  void* device_start_marker = nullptr;  // profiling queues: recorded before the command
  void* marker_owner = nullptr;         // the backend's pool of markers
  void (*release_marker)(command&) noexcept = nullptr;  // returns the markers to their pool
  // A backend that notices the completion of enqueued commands lazily (CUDA: a few at a time,
  // see ADR 0008) asks it here to notice this one promptly, because a thread waits for it.
  void (*flush)(command&) noexcept = nullptr;
  bool lazy_completion = false;      // its backend orders on the device (set at creation)
  std::atomic<bool> awaited{false};  // a thread waits for it (set by flush_completion())
#if NDL_CHECKED
  unsigned long long check_tag = 0;  // CUDA kernels: the tag of the launch's check slot
#endif

  /// Records a failure while running (keeps the first) and cancels the rest.
  void fail(std::exception_ptr e) {
    std::lock_guard lock(failure_mutex);
    if (!failure) failure = std::move(e);
    cancelled.store(true, std::memory_order_relaxed);
  }

  /// A name for messages: the kernel's name or the kind of command.
  std::string describe() const;
};

/// Called by a backend when a command has finished running: completes the device event,
/// releases kept-alive arguments, completes the host event and updates the queue.
void finish_command(const std::shared_ptr<command>& cmd) noexcept;

/// The error of a kernel whose work-item threw on the CPU: names the kernel, the work-item
/// and the index space, and carries the original message.
std::exception_ptr kernel_error(const command& cmd, const cpu_failure& failure);

#if NDL_CHECKED
/// Checked builds: the message of an out-of-bounds view access, the same for every device
/// ("out-of-bounds access to argument 2 (ndl::view<float, 2>): index (5, 3) is outside
/// extent (4, 4) (dimension 0)"); `arg` is -1 for a view that is not a kernel argument.
std::string out_of_bounds_message(int arg, const std::type_info* type, int rank,
                                  const size_t* index, const size_t* extent);

/// Checked builds: the type of argument `arg` of a launch, or null when unknown.
const std::type_info* argument_type(const kernel_record& record, int arg);

/// Checked builds: what an out-of-bounds view access throws on the host.
struct out_of_bounds_error : error {
  out_of_bounds_error(int arg, const std::type_info& view_type, int rank, const size_t* index,
                      const size_t* extent);
  /// The message naming the argument's type in `record` (the view's own type otherwise).
  std::string message_for(const kernel_record& record) const;

  int arg;
  int rank;
  const std::type_info* view_type;
  size_t index[3] = {0, 0, 0};
  size_t extent[3] = {0, 0, 0};
};
#endif

/// Tells the backend of the command behind `s`, if it is enqueued on a device and not yet
/// complete, that a thread is about to wait for it (see command::flush).
inline void flush_completion(const event_state& s) noexcept {
  command* c = s.owner;
  // Commands of other backends (the CPU pool) complete eagerly: nothing to ask, no store.
  if (!c || !c->lazy_completion || s.is_complete()) return;
  // seq_cst on both sides (here: store awaited, load enqueued; the backend: store enqueued,
  // load awaited): a command enqueued meanwhile is flushed by one of the two, or both.
  c->awaited.store(true, std::memory_order_seq_cst);
  if (c->enqueued.load(std::memory_order_seq_cst) && c->flush) c->flush(*c);
}

/// Called when one dependency of `cmd` completed; starts the command after the last one.
void dependency_done(const std::shared_ptr<command>& cmd, const std::exception_ptr& error,
                     bool propagate) noexcept;

}  // namespace ndl::detail
