/// @file private_array.hpp
/// `ndl::private_array<T, Extents...>`: per-work-item storage of a size fixed at compile time.
#pragma once

#include "ndl/range.hpp"

namespace ndl {

/// Tag asking a private_array to start zero-filled.
struct zero_fill_t {
  explicit constexpr zero_fill_t() = default;
};
/// Tag asking a private_array to start zero-filled: `ndl::private_array<float, 10>
/// p{ndl::zero_fill};`
inline constexpr zero_fill_t zero_fill{};

/// An array private to one work-item (registers or stack), of 1 to 3 dimensions whose extents
/// are compile-time constants. Uninitialised unless built with `ndl::zero_fill`.
///
/// @code
/// ndl::private_array<float, 5, 2> p{ndl::zero_fill};
/// p(4, 1) = 3.0f;           // multi-dimensional access, row-major
/// float s = p[9];           // linear access
/// @endcode
template <class T, size_t... Extents>
class private_array {
  static_assert(sizeof...(Extents) >= 1 && sizeof...(Extents) <= 3,
                "ndl::private_array has 1, 2 or 3 dimensions");
  static_assert(((Extents > 0) && ...), "ndl::private_array extents must be positive");

 public:
  /// The number of elements.
  static constexpr size_t count = (Extents * ...);
  /// The number of dimensions.
  static constexpr int dimensions = static_cast<int>(sizeof...(Extents));

  /// Uninitialised storage.
  NDL_KERNEL_FN private_array() {}
  /// Zero-filled storage.
  NDL_KERNEL_FN explicit private_array(zero_fill_t) {
    for (size_t i = 0; i < count; ++i)
      data_[i] = T{};
  }

  /// The element at linear (row-major) index `i`.
  NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator[](size_t i) { return data_[i]; }
  NDL_KERNEL_FN NDL_ALWAYS_INLINE const T& operator[](size_t i) const { return data_[i]; }

  /// The element at indices `i...` (one per dimension).
  template <class... I>
  requires(sizeof...(I) == sizeof...(Extents)) NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator()(
      I... i) {
    return data_[linear(static_cast<size_t>(i)...)];
  }
  template <class... I>
  requires(sizeof...(I) == sizeof...(Extents)) NDL_KERNEL_FN NDL_ALWAYS_INLINE const T& operator()(
      I... i) const {
    return data_[linear(static_cast<size_t>(i)...)];
  }

  /// The number of elements.
  NDL_KERNEL_FN static constexpr size_t size() { return count; }
  /// The address of the first element.
  NDL_KERNEL_FN T* data() { return data_; }

 private:
  template <class... I>
  NDL_KERNEL_FN static constexpr size_t linear(I... i) {
    const size_t idx[] = {i...};
    const size_t ext[] = {Extents...};
    size_t lin = idx[0];
    for (size_t d = 1; d < sizeof...(Extents); ++d)
      lin = lin * ext[d] + idx[d];
    return lin;
  }

  T data_[count];
};

}  // namespace ndl
