#include "cuda/cuda_event.hpp"

#include "cuda/cuda_backend.hpp"

namespace ndl::cuda {

event_pool::~event_pool() {
  // Called at shutdown: errors (a lost device, CUDA already unloaded) are ignored.
  for (cudaEvent_t e : free_)
    (void)cudaEventDestroy(e);
}

cudaEvent_t event_pool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      cudaEvent_t e = free_.back();
      free_.pop_back();
      return e;
    }
  }
  // Events belong to the device current when they are made: make it this pool's one.
  int current = -1;
  NDL_CUDA_CHECK(dev_, cudaGetDevice(&current));
  if (current != dev_.ordinal) NDL_CUDA_CHECK(dev_, cudaSetDevice(dev_.ordinal));
  cudaEvent_t e = nullptr;
  const cudaError_t made =
      cudaEventCreateWithFlags(&e, timing_ ? cudaEventDefault : cudaEventDisableTiming);
  if (current != dev_.ordinal) (void)cudaSetDevice(current);
  NDL_CUDA_CHECK(dev_, made);
  return e;
}

void event_pool::release(cudaEvent_t e) noexcept {
  try {
    std::lock_guard lock(mutex_);
    free_.push_back(e);
  } catch (...) {
    (void)cudaEventDestroy(e);
  }
}

}  // namespace ndl::cuda
