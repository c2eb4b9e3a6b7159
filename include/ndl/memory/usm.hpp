/// @file usm.hpp
/// Unified shared memory: device, shared and host allocations bound to a queue's device.
#pragma once

#include "ndl/queue.hpp"

namespace ndl {

/// Where a USM allocation lives.
enum class usm_kind {
  device,  ///< device memory (on the CPU device: ordinary host memory)
  shared,  ///< migrates between host and device (CUDA managed memory)
  host,    ///< host memory the device can read (CUDA pinned memory)
};

/// "device", "shared" or "host".
NDL_API std::string_view to_string(usm_kind kind) noexcept;

/// Allocates `bytes` bytes of `kind` memory for the device of `q`, aligned to 64 bytes.
/// A zero-byte request returns a unique non-null pointer that must still be freed.
/// @throws ndl::error (errc::out_of_memory) when the allocation fails.
NDL_API void* malloc(size_t bytes, const queue& q, usm_kind kind);

/// Frees a USM allocation made for the device of `q`. Null is ignored.
/// The caller must make sure no command still uses the memory.
/// @throws ndl::error (errc::invalid_argument) when `ptr` is not the start of a live USM
///         allocation of that device.
NDL_API void free(void* ptr, const queue& q);

/// Frees a USM allocation, finding its device from the pointer. Null is ignored.
/// @throws ndl::error (errc::invalid_argument) when `ptr` is not a live USM allocation.
NDL_API void free(void* ptr);

/// Information about a pointer: the kind and size of the USM allocation holding it.
struct pointer_info {
  bool is_usm = false;  ///< false for memory not allocated by ndlaunch
  usm_kind kind = usm_kind::device;
  size_t bytes = 0;      ///< size of the whole allocation
  void* base = nullptr;  ///< start of the allocation
};

/// Looks up the USM allocation containing `ptr` (`is_usm == false` when there is none).
NDL_API pointer_info get_pointer_info(const void* ptr);

namespace detail {
/// Throws out_of_memory for an element count whose byte size overflows.
[[noreturn]] NDL_API void throw_size_overflow(size_t count, size_t element_size);
/// `count * sizeof(T)`, checked for overflow.
template <class T>
size_t checked_bytes(size_t count) {
  if (count > static_cast<size_t>(-1) / sizeof(T)) throw_size_overflow(count, sizeof(T));
  return count * sizeof(T);
}
}  // namespace detail

/// Allocates `count` elements of `T` in device memory of `q`'s device.
/// @throws ndl::error (errc::out_of_memory) when the allocation fails.
template <class T>
T* malloc_device(size_t count, const queue& q = queue{}) {
  return static_cast<T*>(ndl::malloc(detail::checked_bytes<T>(count), q, usm_kind::device));
}
/// Allocates `count` elements of `T` in shared memory of `q`'s device.
/// @throws ndl::error (errc::out_of_memory) when the allocation fails.
template <class T>
T* malloc_shared(size_t count, const queue& q = queue{}) {
  return static_cast<T*>(ndl::malloc(detail::checked_bytes<T>(count), q, usm_kind::shared));
}
/// Allocates `count` elements of `T` in host memory visible to `q`'s device.
/// @throws ndl::error (errc::out_of_memory) when the allocation fails.
template <class T>
T* malloc_host(size_t count, const queue& q = queue{}) {
  return static_cast<T*>(ndl::malloc(detail::checked_bytes<T>(count), q, usm_kind::host));
}

}  // namespace ndl
