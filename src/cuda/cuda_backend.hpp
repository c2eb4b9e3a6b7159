// The CUDA backend: devices from the driver, queues on streams, pooled events, a completion
// thread per device that finishes commands in the order they were enqueued on each stream.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/cuda_event.hpp"
#include "ndl/detail/checked.hpp"
#include "ndl/detail/rt_kernel.hpp"

namespace ndl::cuda {

struct cuda_device;

/// One CUDA stream and the commands enqueued on it that are not finished yet.
///
/// Commands are not given an event each: a *marker* (a pooled event recorded on the stream)
/// covers every command enqueued before it, and is recorded a few commands at a time by the
/// completion thread, or at once by a thread that waits (flush). See ADR 0008.
/// Tracks belong to their device and outlive queues: a queue borrows its streams and gives
/// them back idle, so a pointer to a track stays valid while the device exists.
struct stream_track {
  struct marker {
    cudaEvent_t event;  ///< null when recording it failed (then `error` says why)
    size_t count;       ///< how many of `cmds`, after the earlier markers', it covers
    std::uint64_t seq;  ///< unique on the device: identifies the marker once unlocked
    bool owned;         ///< the track's (returned to the pool when retired), or else
                        ///< the command's own end event (profiling queues)
    cudaError_t error;  ///< the failure to record it
  };

  cudaStream_t stream = nullptr;
  /// Serialises marking: a marker covers exactly the commands counted before its record.
  std::mutex mark_mutex;

  // Guarded by the device's mutex_.
  std::deque<std::shared_ptr<detail::command>> cmds;  ///< enqueued, not finished, in order
  std::deque<marker> markers;                         ///< covering consecutive runs of cmds
  size_t unmarked = 0;        ///< the last `unmarked` of cmds are covered by no marker
  std::uint64_t pushed = 0;   ///< commands ever enqueued (the next one's device_seq)
  std::uint64_t retired = 0;  ///< commands ever taken out (device_seq of cmds.front())
  // The completion thread's own view, so that a launch reads no clock: `pushed` at its last
  // look, when it last saw `pushed` change, and when it first saw commands unmarked (0: not).
  std::uint64_t seen_pushed = 0;
  std::uint64_t seen_change_ns = 0;
  std::uint64_t unmarked_seen_ns = 0;
  std::uint64_t hurry_until = 0;  ///< a thread waits: poll eagerly until this marker retires
  /// Commands finished: those taken out are finished in order, by one thread at a time (a
  /// thread takes commands out only when finished == retired), so that the commands of a
  /// stream complete in the order they were enqueued whichever thread finishes them.
  std::atomic<std::uint64_t> finished{0};
};

/// One GPU.
struct cuda_device {
  explicit cuda_device(int ordinal);
  ~cuda_device();
  cuda_device(const cuda_device&) = delete;
  cuda_device& operator=(const cuda_device&) = delete;

  /// Makes this device current on the calling thread (cached per thread).
  void make_current() const;

  /// A stream for a queue: an idle one given back earlier, or a new one.
  /// @throws ndl::error when CUDA cannot create a stream.
  stream_track* take_track();
  /// Gives back a stream no command is in flight on.
  void give_track(stream_track* t) noexcept;

  /// Records `cmd`, just enqueued on `t`, for completion. `end` (profiling queues) is an event
  /// recorded right after it, which becomes its marker; the caller then holds t.mark_mutex.
  void push(stream_track& t, const std::shared_ptr<detail::command>& cmd,
            cudaEvent_t end = nullptr);

  /// Covers the unmarked commands of `t` with a marker recorded now.
  void mark(stream_track& t) noexcept;

  /// A thread waits for `cmd` (enqueued by this device) or for everything on `t`: mark what
  /// is unmarked and have the completion thread poll eagerly until it is retired.
  void flush(detail::command& cmd) noexcept;
  void flush_track(stream_track& t) noexcept;
  void flush_all() noexcept;

  /// The stream of `t` has been synchronised after its first `seq` commands were enqueued:
  /// finishes those (on the calling thread) that the completion thread has not taken yet.
  void retire_through(stream_track& t, std::uint64_t seq) noexcept;

  /// Before `cmd` (which has completed on this device, `succeeded` or not) is finished:
  /// finishes (or waits for) the commands it was ordered after on the device.
  void settle_dependencies(detail::command& cmd, bool succeeded) noexcept;

  /// Host nanoseconds (steady clock) of a timed event recorded on this device.
  std::uint64_t host_time_of(cudaEvent_t e) const;

#if NDL_CHECKED
  /// Checked builds: gives kernel command `cmd` a tag and the check context of its launch.
  detail::check_context check_launch(detail::command& cmd);
  /// Checked builds: fails `cmd` if its kernel, which has finished, went out of bounds.
  void check_finished(detail::command& cmd) noexcept;
#endif

  int ordinal;
  std::string filter;  // "cuda:N", for messages
  cudaDeviceProp props{};
  mutable device_health health;  // thread-safe; marked lost from const paths too
  event_pool events;
  event_pool timed_events;

 private:
  void complete_loop();
  /// flush() and flush_track(): marks `t` if `unmarked`, then has the completion thread poll
  /// eagerly until its newest marker is retired.
  void hurry(stream_track& t, bool unmarked) noexcept;
  void start_completer();
  /// Takes the commands covered by the marker `seq` at the front of t.markers (none when it
  /// is no longer there) and finishes them with `status` (the marker's completion).
  bool retire(stream_track& t, std::uint64_t seq, cudaError_t status);
  /// Takes the first `n` commands of `t` out with their markers (mutex_ held); the owned
  /// marker events to give back are appended to `events_out`.
  void take_front(stream_track& t, size_t n, std::vector<std::shared_ptr<detail::command>>& out,
                  std::vector<cudaEvent_t>& events_out);
  /// Finishes a command whose work has completed on the device with `status`.
  void complete(const std::shared_ptr<detail::command>& cmd, cudaError_t status) noexcept;
  /// complete() for the commands `done` taken out of `t`, in order, counting them finished.
  void complete_taken(stream_track& t, const std::vector<std::shared_ptr<detail::command>>& done,
                      cudaError_t status) noexcept;

  cudaEvent_t ref_event_ = nullptr;  // timed, recorded at ref_ns_
  std::uint64_t ref_ns_ = 0;
  std::mutex mutex_;  // guards the tracks' queues, active_, free_tracks_ and the flags below
  std::condition_variable cv_;
  std::vector<std::unique_ptr<stream_track>> tracks_;  // every stream made, until the end
  std::vector<stream_track*> free_tracks_;             // idle, for the next queue
  std::vector<stream_track*> active_;                  // with commands in flight
  std::uint64_t next_marker_seq_ = 1;
  std::atomic<std::uint32_t> wake_{0};  // bumped by flushes: ends the completer's spin
  bool stop_ = false;
  bool started_ = false;
  bool idle_ = false;      // the completion thread sleeps until a command arrives
  bool sleeping_ = false;  // the completion thread sleeps (idle, or until a timeout)
  std::thread completer_;

#if NDL_CHECKED
  // One check slot per launch in flight, chosen by tag modulo check_slots: the slots in
  // host-mapped memory (the device writes them, the completion thread reads them after the
  // launch, with no driver call) and the claim words in device memory (atomics).
  static constexpr size_t check_slots = 4096;
  std::once_flag check_once_;
  detail::check_slot* check_host_ = nullptr;           // host address of the slots
  detail::check_slot* check_device_ = nullptr;         // the same memory, as the device sees it
  unsigned long long* check_claims_ = nullptr;         // device memory, zeroed
  std::atomic<unsigned long long> check_next_tag_{1};  // relaxed: only uniqueness matters
#endif
};

/// A kernel compiled at run time by NVRTC and loaded (cuda_module.cpp); lives as long as the
/// backend (launches in flight and the launcher's caches point to it).
struct rt_cuda_kernel {
  detail::rt_kernel info;  // what the launcher reads; info.context points to this
  cudaLibrary_t library = nullptr;
  cudaKernel_t kernel = nullptr;
  int block = 256;  // threads per block of a range launch
  std::string name;
  std::vector<unsigned short> codes;
};

class cuda_backend final : public detail::backend {
 public:
  cuda_backend();
  ~cuda_backend() override;

  backend_kind kind() const override { return backend_kind::cuda; }
  std::vector<detail::device_info> devices() override;
  void* allocate(int ordinal, usm_kind kind, size_t bytes) override;
  void deallocate(int ordinal, usm_kind kind, void* ptr) noexcept override;
  bool orders_on_device() const override { return true; }
  std::shared_ptr<void> make_queue_state(int ordinal, bool in_order) override;
  void execute(const std::shared_ptr<detail::command>& cmd) override;
  bool help_one() override { return false; }
  bool has_work() const override { return false; }
  void synchronize_device(int ordinal) override;
  void flush_queue(void* queue_state) noexcept override;
  void flush_all() noexcept override;
  // cuda_module.cpp: kernels compiled at run time by NVRTC.
  std::string compile_module(int ordinal, const std::string& source,
                             const std::vector<std::string>& options) override;
  std::string compiler_id(int ordinal) override;
  const detail::rt_kernel* load_module(int ordinal, const std::string& image,
                                       const detail::rt_signature& signature) override;

 private:
  void enqueue(detail::command& cmd, cuda_device& dev, cudaStream_t stream);

  std::vector<std::unique_ptr<cuda_device>> devices_;
  std::mutex modules_mutex_;                              // guards modules_
  std::vector<std::unique_ptr<rt_cuda_kernel>> modules_;  // loaded run-time kernels
};

/// The largest element launch_fill() takes; larger ones are filled by copies.
inline constexpr size_t max_fill_pattern = 64;

/// Fills `count` elements of `size` bytes at `dst` with `pattern` (at most 64 bytes).
cudaError_t launch_fill(void* dst, const unsigned char* pattern, size_t size, size_t count,
                        cudaStream_t stream);

/// Copies between a strided array at `strided` and contiguous row-major memory at `packed`
/// (`to_packed`: the array is read); both must be device-accessible.
cudaError_t launch_strided_copy(void* strided, void* packed, bool to_packed, size_t elem_size,
                                int dims, const size_t* shape, const ptrdiff_t* strides,
                                cudaStream_t stream);

}  // namespace ndl::cuda
