/// @file nd_item.hpp
/// `ndl::nd_item<Dim>`: what a kernel launched over an `nd_range` receives.
#pragma once

#include "ndl/kernel/group.hpp"

namespace ndl {

/// The work-item of an nd-range launch: global, local and group ids and ranges.
///
/// For every dimension `d`: `get_global_id(d) == get_group().get_group_id(d) *
/// get_local_range(d) + get_local_id(d)`. Linear ids are row-major.
///
/// @code
/// ndl::call_kernel([](ndl::nd_item<1> it, ndl::view<int, 1> a) {
///   a[it.get_global_id(0)] = int(it.get_group().get_group_id(0));
/// }, ndl::nd_range{{1024}, {64}}, a);
/// @endcode
template <int Dim>
class nd_item {
 public:
  /// The number of dimensions.
  static constexpr int dimensions = Dim;

  /// The global id in dimension `d`.
  NDL_KERNEL_FN size_t get_global_id(int d) const {
    return group_id_[d] * local_range_[d] + local_id_[d];
  }
  /// The id within the work-group in dimension `d`.
  NDL_KERNEL_FN size_t get_local_id(int d) const { return local_id_[d]; }
  /// The global extent in dimension `d`.
  NDL_KERNEL_FN size_t get_global_range(int d) const { return group_range_[d] * local_range_[d]; }
  /// The work-group extent in dimension `d`.
  NDL_KERNEL_FN size_t get_local_range(int d) const { return local_range_[d]; }
  /// The row-major linear global id.
  NDL_KERNEL_FN size_t get_global_linear_id() const {
    size_t lin = get_global_id(0);
    for (int d = 1; d < Dim; ++d)
      lin = lin * get_global_range(d) + get_global_id(d);
    return lin;
  }
  /// The row-major linear id within the work-group.
  NDL_KERNEL_FN size_t get_local_linear_id() const {
    return detail::linearize<Dim>(local_id_, local_range_);
  }
  /// The number of work-items in the launch.
  NDL_KERNEL_FN size_t get_global_linear_range() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= get_global_range(d);
    return n;
  }
  /// The number of work-items in a work-group.
  NDL_KERNEL_FN size_t get_local_linear_range() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= local_range_[d];
    return n;
  }
  /// The id of this work-item's group in dimension `d`.
  NDL_KERNEL_FN size_t get_group_id(int d) const { return group_id_[d]; }
  /// The number of work-groups in dimension `d`.
  NDL_KERNEL_FN size_t get_group_range(int d) const { return group_range_[d]; }
  /// The work-group this work-item belongs to.
  NDL_KERNEL_FN group<Dim> get_group() const;

 private:
  friend struct detail::item_access;
  size_t local_id_[Dim];
  size_t group_id_[Dim];
  size_t local_range_[Dim];
  size_t group_range_[Dim];
};

namespace detail {
/// Builds items and groups; only the launch machinery uses it.
struct item_access {
  template <int Dim>
  NDL_KERNEL_FN NDL_ALWAYS_INLINE static item<Dim> make_item(const size_t* id, const size_t* r) {
    item<Dim> it;
    for (int d = 0; d < Dim; ++d) {
      it.id_[d] = id[d];
      it.range_[d] = r[d];
    }
    return it;
  }
  template <int Dim>
  NDL_KERNEL_FN NDL_ALWAYS_INLINE static nd_item<Dim> make_nd_item(const size_t* local_id,
                                                                   const size_t* group_id,
                                                                   const size_t* local_range,
                                                                   const size_t* group_range) {
    nd_item<Dim> it;
    for (int d = 0; d < Dim; ++d) {
      it.local_id_[d] = local_id[d];
      it.group_id_[d] = group_id[d];
      it.local_range_[d] = local_range[d];
      it.group_range_[d] = group_range[d];
    }
    return it;
  }
  template <int Dim>
  NDL_KERNEL_FN NDL_ALWAYS_INLINE static group<Dim> make_group(const nd_item<Dim>& it) {
    group<Dim> g;
    for (int d = 0; d < Dim; ++d) {
      g.group_id_[d] = it.group_id_[d];
      g.group_range_[d] = it.group_range_[d];
      g.local_range_[d] = it.local_range_[d];
    }
    g.local_linear_id_ = it.get_local_linear_id();
    return g;
  }
};
}  // namespace detail

template <int Dim>
NDL_KERNEL_FN group<Dim> nd_item<Dim>::get_group() const {
  return detail::item_access::make_group(*this);
}

}  // namespace ndl
