#include "cuda/cuda_queue.hpp"

#include "core/command.hpp"
#include "cuda/cuda_backend.hpp"

namespace ndl::cuda {

cuda_queue::cuda_queue(cuda_device& dev, bool in_order) : dev_(dev) {
  const int n = in_order ? 1 : out_of_order_streams;
  try {
    for (int i = 0; i < n; ++i)
      tracks_.push_back(dev.take_track());
  } catch (...) {
    for (stream_track* t : tracks_)
      dev.give_track(t);
    throw;
  }
}

cuda_queue::~cuda_queue() {
  // Commands hold their queue until they finish: nothing is in flight on these streams.
  for (stream_track* t : tracks_)
    dev_.give_track(t);
}

void cuda_queue::flush() noexcept {
  for (stream_track* t : tracks_)
    dev_.flush_track(*t);
}

stream_track& cuda_queue::pick(const detail::command& cmd) {
  if (tracks_.size() == 1) return *tracks_[0];
  for (const auto& s : cmd.device_waits)
    for (stream_track* t : tracks_)
      if (t == s->owner->device_track) return *t;
  // Relaxed: any stream will do, the counter only spreads the work.
  return *tracks_[next_.fetch_add(1, std::memory_order_relaxed) % tracks_.size()];
}

}  // namespace ndl::cuda
