/// @file range.hpp
/// `ndl::range<Dim>`: the extents of an index space (1, 2 or 3 dimensions, 64-bit).
///
/// This header is portable to every kernel compiler (no exceptions or host-only headers on
/// the device path).
#pragma once

#include "ndl/config.hpp"

namespace ndl {

/// Unsigned 64-bit size type used for every extent and id.
using size_t = decltype(sizeof(0));
/// Signed 64-bit difference type used for strides.
using ptrdiff_t = decltype(static_cast<char*>(nullptr) - static_cast<char*>(nullptr));

namespace detail {
/// Throws invalid_range for a negative extent (host only; defined in the runtime).
[[noreturn]] NDL_API void throw_negative_extent(int dim, long long value);

NDL_KERNEL_FN constexpr bool is_negative(signed char v) {
  return v < 0;
}
NDL_KERNEL_FN constexpr bool is_negative(short v) {
  return v < 0;
}
NDL_KERNEL_FN constexpr bool is_negative(int v) {
  return v < 0;
}
NDL_KERNEL_FN constexpr bool is_negative(long v) {
  return v < 0;
}
NDL_KERNEL_FN constexpr bool is_negative(long long v) {
  return v < 0;
}
NDL_KERNEL_FN constexpr bool is_negative(unsigned char) {
  return false;
}
NDL_KERNEL_FN constexpr bool is_negative(unsigned short) {
  return false;
}
NDL_KERNEL_FN constexpr bool is_negative(unsigned) {
  return false;
}
NDL_KERNEL_FN constexpr bool is_negative(unsigned long) {
  return false;
}
NDL_KERNEL_FN constexpr bool is_negative(unsigned long long) {
  return false;
}

/// True for the integer types an extent may be given in (no bool, no floating point).
template <class T>
inline constexpr bool is_extent_type = false;
template <>
inline constexpr bool is_extent_type<signed char> = true;
template <>
inline constexpr bool is_extent_type<short> = true;
template <>
inline constexpr bool is_extent_type<int> = true;
template <>
inline constexpr bool is_extent_type<long> = true;
template <>
inline constexpr bool is_extent_type<long long> = true;
template <>
inline constexpr bool is_extent_type<unsigned char> = true;
template <>
inline constexpr bool is_extent_type<unsigned short> = true;
template <>
inline constexpr bool is_extent_type<unsigned> = true;
template <>
inline constexpr bool is_extent_type<unsigned long> = true;
template <>
inline constexpr bool is_extent_type<unsigned long long> = true;

template <class I>
NDL_KERNEL_FN constexpr size_t checked_extent([[maybe_unused]] int dim, I value) {
#if !defined(__CUDA_ARCH__) && !defined(__CUDACC_RTC__)
  if (is_negative(value)) throw_negative_extent(dim, static_cast<long long>(value));
#endif
  return static_cast<size_t>(value);
}
}  // namespace detail

/// The extents of a `Dim`-dimensional index space.
///
/// Dimension 0 is the slowest-moving one and dimension `Dim - 1` the fastest: linear ids are
/// row-major, and on GPUs the last dimension maps to CUDA `x`. Extents are 64-bit; a zero
/// extent in any dimension makes a launch over the range a no-op.
///
/// @code
/// ndl::range r{1024, 768};          // ndl::range<2>
/// ndl::size_t n = r.size();          // 786432
/// @endcode
///
/// @throws ndl::error (errc::invalid_range) when built from a negative signed value.
template <int Dim>
class range {
  static_assert(Dim >= 1 && Dim <= 3, "ndl::range supports 1, 2 or 3 dimensions");

 public:
  /// The number of dimensions.
  static constexpr int dimensions = Dim;

  /// A range of extent 0 in every dimension.
  NDL_KERNEL_FN constexpr range() : extent_{} {}

  /// Builds a range from `Dim` integer extents (signed values must not be negative).
  template <class... I>
  requires(sizeof...(I) == Dim && (detail::is_extent_type<I> && ...)) NDL_KERNEL_FN
      constexpr range(I... extents)
      : extent_{} {
    int d = 0;
    ((extent_[d] = detail::checked_extent(d, extents), ++d), ...);
  }

  /// The extent of dimension `d`.
  NDL_KERNEL_FN constexpr size_t get(int d) const { return extent_[d]; }
  /// The extent of dimension `d`.
  NDL_KERNEL_FN constexpr size_t operator[](int d) const { return extent_[d]; }
  /// Mutable access to the extent of dimension `d`.
  NDL_KERNEL_FN constexpr size_t& operator[](int d) { return extent_[d]; }

  /// The number of points: the product of the extents.
  NDL_KERNEL_FN constexpr size_t size() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= extent_[d];
    return n;
  }

  /// True when some extent is zero (a launch over it does nothing).
  NDL_KERNEL_FN constexpr bool empty() const { return size() == 0; }

  friend NDL_KERNEL_FN constexpr bool operator==(const range& a, const range& b) {
    for (int d = 0; d < Dim; ++d)
      if (a.extent_[d] != b.extent_[d]) return false;
    return true;
  }

 private:
  size_t extent_[Dim];
};

template <class I0>
range(I0) -> range<1>;
template <class I0, class I1>
range(I0, I1) -> range<2>;
template <class I0, class I1, class I2>
range(I0, I1, I2) -> range<3>;

}  // namespace ndl
