// One checking path for every CUDA runtime call: errors become ndl::error, sticky ones
// (the context is poisoned) mark the device lost.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <string>

namespace ndl::cuda {

/// Whether `e` poisons the CUDA context: every later call on the device fails.
bool is_sticky(cudaError_t e) noexcept;

/// The "device lost" state of one device: set once by the first sticky error.
class device_health {
 public:
  bool is_lost() const noexcept { return lost_.load(std::memory_order_acquire); }
  /// Records the first sticky error (what happened, where).
  void mark_lost(const std::string& what) noexcept;
  /// The message of the error that lost the device.
  std::string reason() const;
  /// Throws device_lost when the device was lost.
  void check(const char* filter) const;

 private:
  std::atomic<bool> lost_{false};  // release in mark_lost, acquire in is_lost
  mutable std::mutex mutex_;
  std::string reason_;
};

/// The exception for a failed call: device_lost for sticky errors (and marks `health`),
/// backend_failure naming the CUDA error otherwise.
std::exception_ptr cuda_error(cudaError_t e, const char* call, const char* filter,
                              device_health* health);

/// Throws cuda_error(...) when `e` is not cudaSuccess.
void check(cudaError_t e, const char* call, const char* filter, device_health* health);

}  // namespace ndl::cuda

/// Checks a CUDA runtime call made for device `dev` (a cuda_device: filter and health).
#define NDL_CUDA_CHECK(dev, call) \
  ::ndl::cuda::check((call), #call, (dev).filter.c_str(), &(dev).health)
