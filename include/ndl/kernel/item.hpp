/// @file item.hpp
/// `ndl::item<Dim>`: what a kernel launched over a `range` receives.
#pragma once

#include "ndl/range.hpp"

namespace ndl {

namespace detail {
/// Row-major linear index of `id` in a space of extents `r` (last dimension fastest).
template <int Dim>
NDL_KERNEL_FN NDL_ALWAYS_INLINE constexpr size_t linearize(const size_t* id, const size_t* r) {
  size_t lin = id[0];
  for (int d = 1; d < Dim; ++d)
    lin = lin * r[d] + id[d];
  return lin;
}
struct item_access;
}  // namespace detail

/// The work-item of a range launch: its id in the index space and the range itself.
///
/// `get_id(d)` runs over `[0, get_range(d))`; `get_linear_id()` is row-major (the last
/// dimension moves fastest).
///
/// @code
/// ndl::call_kernel([](ndl::item<2> it, ndl::view<float, 2> a) {
///   a(it.get_id(0), it.get_id(1)) = float(it.get_linear_id());
/// }, ndl::range{rows, cols}, a);
/// @endcode
template <int Dim>
class item {
 public:
  /// The number of dimensions.
  static constexpr int dimensions = Dim;

  /// The id of this work-item in dimension `d`.
  NDL_KERNEL_FN size_t get_id(int d) const { return id_[d]; }
  /// The extent of the index space in dimension `d`.
  NDL_KERNEL_FN size_t get_range(int d) const { return range_[d]; }
  /// The row-major linear id of this work-item.
  NDL_KERNEL_FN size_t get_linear_id() const { return detail::linearize<Dim>(id_, range_); }
  /// The number of work-items in the launch.
  NDL_KERNEL_FN size_t get_linear_range() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= range_[d];
    return n;
  }
  /// The whole index space.
  NDL_KERNEL_FN range<Dim> get_range() const {
    range<Dim> r;
    for (int d = 0; d < Dim; ++d)
      r[d] = range_[d];
    return r;
  }

 private:
  friend struct detail::item_access;
  size_t id_[Dim];
  size_t range_[Dim];
};

}  // namespace ndl
