// Counts of what the runtime holds, for leak checks in white-box and stress tests: compare a
// snapshot taken before some work with one taken after it has been waited for.
#pragma once

#include <cstddef>

#include "ndl/config.hpp"

namespace ndl::detail {

struct runtime_stats {
  /// Commands submitted and not yet finished, in every queue (runtime::in_flight).
  long commands_in_flight = 0;
  /// Command objects alive: in flight, or finished and still referenced (by an event, a
  /// queue's unobserved failure, an in-order queue's last command). Only commands made after
  /// the first get_runtime_stats() call count (launches pay nothing for it otherwise): call
  /// it once before the work a leak check covers.
  long commands_alive = 0;
  /// Live USM allocations (ndl::malloc*, arrays' storage), on every device.
  std::size_t usm_allocations = 0;
  /// Their sizes in bytes, as requested.
  std::size_t usm_bytes = 0;
};

/// A snapshot of the counts (starts the runtime if it has not started). Each count is exact
/// at some moment during the call; they are not read atomically together. After a wait
/// returns, the thread that finished a command may still hold it for a moment: a leak check
/// polls (with a time limit) until commands_alive is back to its starting value.
NDL_API runtime_stats get_runtime_stats();

}  // namespace ndl::detail
