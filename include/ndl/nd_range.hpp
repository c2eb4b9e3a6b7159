/// @file nd_range.hpp
/// `ndl::nd_range<Dim>`: a global index space divided into work-groups.
#pragma once

#include <string>

#include "ndl/range.hpp"

namespace ndl {

namespace detail {
/// Checks that `local` is a valid work-group shape for `global`; throws invalid_range.
NDL_API void validate_nd_range(int dims, const size_t* global, const size_t* local);
}  // namespace detail

/// A global range divided into work-groups of a local range.
///
/// Every local extent must be non-zero and divide the global extent of its dimension.
/// A zero global extent is allowed and makes the launch a no-op.
///
/// @code
/// ndl::nd_range nd{ndl::range{1024, 1024}, ndl::range{16, 16}};  // nd_range<2>
/// ndl::nd_range nd1{{4096}, {256}};                               // nd_range<1>
/// @endcode
///
/// @throws ndl::error (errc::invalid_range) naming both ranges when the local range is zero
///         in some dimension or does not divide the global range.
template <int Dim>
class nd_range {
 public:
  /// The number of dimensions.
  static constexpr int dimensions = Dim;

  /// Divides `global` into work-groups of shape `local`.
  nd_range(range<Dim> global, range<Dim> local) : global_(global), local_(local) {
    size_t g[Dim], l[Dim];
    for (int d = 0; d < Dim; ++d) {
      g[d] = global_[d];
      l[d] = local_[d];
    }
    detail::validate_nd_range(Dim, g, l);
  }

  /// Divides a global range given as an array of extents (`{{64, 64}, {8, 8}}`).
  nd_range(const size_t (&global)[Dim], const size_t (&local)[Dim])
      : nd_range(from_array(global), from_array(local)) {}

  /// The global range.
  range<Dim> get_global_range() const { return global_; }
  /// The work-group shape.
  range<Dim> get_local_range() const { return local_; }
  /// The number of work-groups in each dimension.
  range<Dim> get_group_range() const {
    range<Dim> r;
    for (int d = 0; d < Dim; ++d)
      r[d] = global_[d] / local_[d];
    return r;
  }

  friend bool operator==(const nd_range& a, const nd_range& b) {
    return a.global_ == b.global_ && a.local_ == b.local_;
  }

 private:
  static range<Dim> from_array(const size_t (&e)[Dim]) {
    range<Dim> r;
    for (int d = 0; d < Dim; ++d)
      r[d] = e[d];
    return r;
  }

  range<Dim> global_;
  range<Dim> local_;
};

template <int Dim>
nd_range(range<Dim>, range<Dim>) -> nd_range<Dim>;
template <size_t Dim>
nd_range(const size_t (&)[Dim], const size_t (&)[Dim]) -> nd_range<static_cast<int>(Dim)>;

/// Formats a range as "{a, b, c}" (for messages and logs).
template <int Dim>
std::string to_string(const range<Dim>& r) {
  std::string s = "{";
  for (int d = 0; d < Dim; ++d) {
    if (d) s += ", ";
    s += std::to_string(r[d]);
  }
  return s + "}";
}

/// Formats an nd_range as "{global} / {local}".
template <int Dim>
std::string to_string(const nd_range<Dim>& r) {
  return to_string(r.get_global_range()) + " / " + to_string(r.get_local_range());
}

}  // namespace ndl
