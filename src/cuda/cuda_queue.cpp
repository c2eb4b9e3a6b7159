#include "cuda/cuda_queue.hpp"

#include <cstdio>

#include "core/command.hpp"
#include "cuda/cuda_backend.hpp"

namespace ndl::cuda {

cuda_queue::cuda_queue(cuda_device& dev, bool in_order) : dev_(dev) {
  dev.make_current();
  const int n = in_order ? 1 : out_of_order_streams;
  try {
    for (int i = 0; i < n; ++i) {
      cudaStream_t s = nullptr;
      // Non-blocking: no implicit ordering with the legacy default stream of other code.
      NDL_CUDA_CHECK(dev, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      streams_.push_back(s);
    }
  } catch (...) {
    for (cudaStream_t s : streams_)
      (void)cudaStreamDestroy(s);
    throw;
  }
}

cuda_queue::~cuda_queue() {
  // Commands hold their queue until they finish: nothing is in flight on these streams.
  for (cudaStream_t s : streams_) {
    const cudaError_t e = cudaStreamDestroy(s);
    if (e != cudaSuccess && e != cudaErrorCudartUnloading && !dev_.health.is_lost())
      std::fprintf(stderr, "ndl: cudaStreamDestroy on %s failed: %s\n", dev_.filter.c_str(),
                   cudaGetErrorName(e));
  }
}

bool cuda_queue::owns(const void* s) const {
  for (cudaStream_t mine : streams_)
    if (mine == s) return true;
  return false;
}

cudaStream_t cuda_queue::pick(const detail::command& cmd) {
  if (streams_.size() == 1) return streams_[0];
  for (const auto& s : cmd.device_waits)
    if (owns(s->owner->device_stream)) return static_cast<cudaStream_t>(s->owner->device_stream);
  // Relaxed: any stream will do, the counter only spreads the work.
  return streams_[next_.fetch_add(1, std::memory_order_relaxed) % streams_.size()];
}

}  // namespace ndl::cuda
