// The CUDA backend: devices from the driver, queues on streams, pooled events, a completion
// thread per device that finishes commands in the order they were enqueued.
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

/// How the completion thread waits for a command's event (NDL_CUDA_WAIT).
enum class wait_mode {
  block,  ///< cudaEventSynchronize on blocking-sync events (sleeps; the default)
  spin,   ///< cudaEventSynchronize, spinning in the driver
  poll,   ///< cudaEventQuery with pauses in between
};

/// One GPU.
struct cuda_device {
  cuda_device(int ordinal, wait_mode mode);
  ~cuda_device();
  cuda_device(const cuda_device&) = delete;
  cuda_device& operator=(const cuda_device&) = delete;

  /// Makes this device current on the calling thread (cached per thread).
  void make_current() const;

  /// Hands an enqueued command to the completion thread.
  void push_pending(std::shared_ptr<detail::command> cmd);

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
  cudaError_t wait_for(cudaEvent_t e) const;

  wait_mode mode_;
  void start_completer();

  cudaEvent_t ref_event_ = nullptr;  // timed, recorded at ref_ns_
  std::uint64_t ref_ns_ = 0;
  std::mutex mutex_;  // guards pending_, stop_, started_, sleeping_
  std::condition_variable cv_;
  std::deque<std::shared_ptr<detail::command>> pending_;
  std::atomic<size_t> pending_count_{0};  // pending_.size(), for the completion thread's spin
  bool stop_ = false;
  bool started_ = false;
  bool sleeping_ = false;  // the completion thread waits on cv_: submitters must notify
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
  void execute(std::shared_ptr<detail::command> cmd) override;
  bool help_one() override { return false; }
  bool has_work() const override { return false; }
  void synchronize_device(int ordinal) override;
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
