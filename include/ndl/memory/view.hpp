/// @file view.hpp
/// `ndl::view<T, Dim>`: what a kernel receives for an array argument.
#pragma once

#include "ndl/detail/checked.hpp"
#include "ndl/range.hpp"

namespace ndl::detail {
template <class T>
inline constexpr bool is_const_type = false;
template <class T>
inline constexpr bool is_const_type<const T> = true;
struct view_access;
}  // namespace ndl::detail

namespace ndl {

/// A non-owning, strided window on `Dim`-dimensional data: pointer, shape and strides.
///
/// Strides are in elements and may be negative or zero. `view` is trivially copyable, so it
/// passes into kernels by value; it does not keep the memory alive (the launcher keeps the
/// `ndl::array` it came from alive instead).
///
/// In a checked build (CMake option `NDL_CHECKED`) every `operator()` and `operator[]`
/// compares each index with its extent (as unsigned numbers, so negative indices fail too).
/// The first out-of-bounds access fails the launch with `errc::kernel_failure`, naming the
/// kernel, the work-item, the argument the view was passed as, the index and the extent: on
/// the CPU the access throws; on a GPU it is recorded, the access goes to a dummy element and
/// the launch fails once the kernel has finished. A checked view also carries the position
/// of the kernel argument it was made from. Without `NDL_CHECKED`, accesses are unchecked and
/// a view is exactly a pointer, the shape and the strides.
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
    view<const U, Dim> v{data_, shape_, strides_};
#if NDL_CHECKED
    v.arg_ = arg_;
#endif
    return v;
  }

  /// The element at indices `i...` (one per dimension).
  ///
  /// @throws ndl::error (errc::kernel_failure) in a checked build, on the CPU, when an index
  /// is outside its extent (on a GPU the launch fails instead).
  template <class... I>
  requires(sizeof...(I) == Dim) NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator()(I... i) const {
#if NDL_CHECKED
    const size_t idx[Dim] = {static_cast<size_t>(i)...};
    for (int d = 0; d < Dim; ++d)
      if (NDL_UNLIKELY(idx[d] >= shape_[d]))
        return detail::out_of_bounds<T, view>(arg_, Dim, idx, shape_);
#endif
    ptrdiff_t off = 0;
    int d = 0;
    ((off += static_cast<ptrdiff_t>(i) * strides_[d++]), ...);
    return data_[off];
  }

  /// The element at index `i` of a 1-D view.
  ///
  /// @throws ndl::error (errc::kernel_failure) in a checked build, on the CPU, when `i` is
  /// outside the extent (on a GPU the launch fails instead).
  NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator[](size_t i) const requires(Dim == 1) {
#if NDL_CHECKED
    if (NDL_UNLIKELY(i >= shape_[0])) return detail::out_of_bounds<T, view>(arg_, 1, &i, shape_);
#endif
    return data_[static_cast<ptrdiff_t>(i) * strides_[0]];
  }

  /// The address of element (0, ..., 0).
  NDL_KERNEL_FN T* data() const {
    return data_;
  }
  /// The extent of dimension `d`.
  NDL_KERNEL_FN size_t extent(int d) const {
    return shape_[d];
  }
  /// The stride of dimension `d`, in elements.
  NDL_KERNEL_FN ptrdiff_t stride(int d) const {
    return strides_[d];
  }
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
#if NDL_CHECKED
  /// Checked builds only: the position (0-based) of the kernel argument this view was passed
  /// as, or -1 for a view that is not a kernel argument (made or captured by the kernel).
  NDL_KERNEL_FN int argument() const {
    return arg_;
  }
#endif

 private:
  template <class, int>
  friend class view;
  friend struct detail::view_access;

  T* data_ = nullptr;
  size_t shape_[Dim] = {};
  ptrdiff_t strides_[Dim] = {};
#if NDL_CHECKED
  int arg_ = -1;
#endif
};

namespace detail {
/// True for the views.
template <class T>
inline constexpr bool is_view_v = false;
template <class T, int Dim>
inline constexpr bool is_view_v<view<T, Dim>> = true;

/// The launcher's access to views.
struct view_access {
  /// Checked builds: records that `v` is kernel argument `position`.
  template <class T, int Dim>
  static void set_argument([[maybe_unused]] view<T, Dim>& v, [[maybe_unused]] int position) {
#if NDL_CHECKED
    v.arg_ = position;
#endif
  }
};
}  // namespace detail

}  // namespace ndl
