// The streams of one queue: one for an in-order queue, a small pool for an out-of-order one.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <vector>

namespace ndl::detail {
struct command;
}

namespace ndl::cuda {

struct cuda_device;
struct stream_track;

class cuda_queue {
 public:
  /// Streams of an out-of-order queue: independent commands overlap across them.
  static constexpr int out_of_order_streams = 4;

  /// @throws ndl::error when CUDA cannot create the streams.
  cuda_queue(cuda_device& dev, bool in_order);
  /// Gives the streams back to the device (nothing is in flight on them by then).
  ~cuda_queue();
  cuda_queue(const cuda_queue&) = delete;
  cuda_queue& operator=(const cuda_queue&) = delete;

  /// The stream for `cmd`: the queue's stream when in order; otherwise the stream of a
  /// dependency already on this queue (no cross-stream wait needed), else the next in turn.
  stream_track& pick(const detail::command& cmd);

  /// Asks the device to notice the completion of everything on these streams soon.
  void flush() noexcept;

 private:
  cuda_device& dev_;
  std::vector<stream_track*> tracks_;
  std::atomic<unsigned> next_{0};
};

}  // namespace ndl::cuda
