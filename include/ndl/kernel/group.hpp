/// @file group.hpp
/// `ndl::group<Dim>`: the work-group a work-item of an nd-range launch belongs to.
#pragma once

#include "ndl/kernel/item.hpp"

namespace ndl {

/// A work-group of an nd-range launch, seen from one of its work-items.
///
/// Obtained with `nd_item::get_group()`. Group ids are row-major like every other id.
template <int Dim>
class group {
 public:
  /// The number of dimensions.
  static constexpr int dimensions = Dim;

  /// The id of this group in dimension `d`.
  NDL_KERNEL_FN size_t get_group_id(int d) const { return group_id_[d]; }
  /// The number of groups in dimension `d`.
  NDL_KERNEL_FN size_t get_group_range(int d) const { return group_range_[d]; }
  /// The row-major linear id of this group.
  NDL_KERNEL_FN size_t get_group_linear_id() const {
    return detail::linearize<Dim>(group_id_, group_range_);
  }
  /// The number of groups in the launch.
  NDL_KERNEL_FN size_t get_group_linear_range() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= group_range_[d];
    return n;
  }
  /// The work-group extent in dimension `d`.
  NDL_KERNEL_FN size_t get_local_range(int d) const { return local_range_[d]; }
  /// The number of work-items in the group.
  NDL_KERNEL_FN size_t get_local_linear_range() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= local_range_[d];
    return n;
  }
  /// True for the group's leader: the work-item of local linear id 0.
  NDL_KERNEL_FN bool leader() const { return local_linear_id_ == 0; }

 private:
  friend struct detail::item_access;
  size_t group_id_[Dim];
  size_t group_range_[Dim];
  size_t local_range_[Dim];
  size_t local_linear_id_;
};

}  // namespace ndl
