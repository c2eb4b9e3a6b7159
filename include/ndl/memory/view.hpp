/// @file view.hpp
/// `ndl::view<T, Dim>`: what a kernel receives for an array argument.
#pragma once

#include "ndl/range.hpp"

namespace ndl::detail {
template <class T>
inline constexpr bool is_const_type = false;
template <class T>
inline constexpr bool is_const_type<const T> = true;
}  // namespace ndl::detail

namespace ndl {

/// A non-owning, strided window on `Dim`-dimensional data: pointer, shape and strides.
///
/// Strides are in elements and may be negative or zero. `view` is trivially copyable, so it
/// passes into kernels by value; it does not keep the memory alive (the launcher keeps the
/// `ndl::array` it came from alive instead).
///
/// @code
/// [](ndl::item<2> it, ndl::view<const float, 2> a, ndl::view<float, 2> b) {
///   b(it.get_id(0), it.get_id(1)) = 2 * a(it.get_id(0), it.get_id(1));
/// }
/// @endcode
template <class T, int Dim>
class view {
  static_assert(Dim >= 1 && Dim <= 3, "ndl::view supports 1, 2 or 3 dimensions");

 public:
  using value_type = T;
  static constexpr int dimensions = Dim;

  /// An empty view (null data, zero extents).
  view() = default;

  /// A view of `data` with the given shape and strides (in elements).
  NDL_KERNEL_FN view(T* data, const size_t* shape, const ptrdiff_t* strides) : data_(data) {
    for (int d = 0; d < Dim; ++d) {
      shape_[d] = shape[d];
      strides_[d] = strides[d];
    }
  }

  /// A contiguous 1-D view of `n` elements.
  NDL_KERNEL_FN view(T* data, size_t n) requires(Dim == 1) : data_(data), shape_{n}, strides_{1} {}

  /// Views of `T` convert to views of `const T`.
  template <class U = T>
  requires(!detail::is_const_type<U>) NDL_KERNEL_FN operator view<const U, Dim>() const {
    return {data_, shape_, strides_};
  }

  /// The element at indices `i...` (one per dimension).
  template <class... I>
  requires(sizeof...(I) == Dim) NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator()(I... i) const {
    ptrdiff_t off = 0;
    int d = 0;
    ((off += static_cast<ptrdiff_t>(i) * strides_[d++]), ...);
    return data_[off];
  }

  /// The element at index `i` of a 1-D view.
  NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator[](size_t i) const requires(Dim == 1) {
    return data_[static_cast<ptrdiff_t>(i) * strides_[0]];
  }

  /// The address of element (0, ..., 0).
  NDL_KERNEL_FN T* data() const { return data_; }
  /// The extent of dimension `d`.
  NDL_KERNEL_FN size_t extent(int d) const { return shape_[d]; }
  /// The stride of dimension `d`, in elements.
  NDL_KERNEL_FN ptrdiff_t stride(int d) const { return strides_[d]; }
  /// The shape as a range.
  NDL_KERNEL_FN range<Dim> shape() const {
    range<Dim> r;
    for (int d = 0; d < Dim; ++d)
      r[d] = shape_[d];
    return r;
  }
  /// The number of elements.
  NDL_KERNEL_FN size_t size() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= shape_[d];
    return n;
  }

 private:
  T* data_ = nullptr;
  size_t shape_[Dim] = {};
  ptrdiff_t strides_[Dim] = {};
};

}  // namespace ndl
