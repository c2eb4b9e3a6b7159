// The CPU work-group engine: plain loops until work-item 0 reaches a barrier, then one
// fiber per work-item, run in lock-step from barrier to barrier by a scheduler fiber.
// The entry points in include/ndl/detail/work_group.hpp are its interface.
#pragma once

#include <cstddef>

namespace ndl::cpu {

/// Bytes of local memory each work-group gets on the CPU device.
inline constexpr std::size_t local_memory_bytes = 256 * 1024;

}  // namespace ndl::cpu
