#include "cuda/cuda_check.hpp"

#include "ndl/error.hpp"

namespace ndl::cuda {

bool is_sticky(cudaError_t e) noexcept {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

void device_health::mark_lost(const std::string& what) noexcept {
  std::lock_guard lock(mutex_);
  if (lost_.load(std::memory_order_relaxed)) return;
  try {
    reason_ = what;
  } catch (...) {
  }
  lost_.store(true, std::memory_order_release);
}

std::string device_health::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

void device_health::check(const char* filter) const {
  if (!is_lost()) return;
  detail::throw_error(errc::device_lost, std::string("device ") + filter +
                                             " was lost and cannot be used any more: " + reason());
}

std::exception_ptr cuda_error(cudaError_t e, const char* call, const char* filter,
                              device_health* health) {
  const std::string what = std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) +
                           ") in " + call + " on " + filter;
  if (is_sticky(e)) {
    if (health) health->mark_lost(what);
    return std::make_exception_ptr(
        error(errc::device_lost, "device " + std::string(filter) + " was lost: " + what));
  }
  if (e == cudaErrorMemoryAllocation)
    return std::make_exception_ptr(error(errc::out_of_memory, what));
  return std::make_exception_ptr(error(errc::backend_failure, what));
}

void check(cudaError_t e, const char* call, const char* filter, device_health* health) {
  if (e == cudaSuccess) return;
  std::rethrow_exception(cuda_error(e, call, filter, health));
}

}  // namespace ndl::cuda
