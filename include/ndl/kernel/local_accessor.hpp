/// @file local_accessor.hpp
/// `ndl::local_accessor<T, Dim>`: work-group local memory sized at launch.
#pragma once

#include "ndl/range.hpp"

namespace ndl {

namespace detail {
struct local_binding;
/// Throws invalid_argument for a local_accessor of no elements (host only).
[[noreturn]] NDL_API void throw_empty_local_accessor();
}  // namespace detail

/// Work-group local memory: one C-order array of `T` per work-group, shared by its
/// work-items, sized when the launch is made. Only an nd_range launch accepts one.
///
/// Create it on the host with its shape and pass it as a kernel argument; inside the kernel
/// index it like a view. Its contents start uninitialised in every work-group.
///
/// @code
/// ndl::call_kernel([](ndl::nd_item<1> it, ndl::view<float, 1> a, ndl::local_accessor<float, 1>
/// tile) {
///   tile[it.get_local_id(0)] = a[it.get_global_id(0)];
///   ndl::group_barrier(it.get_group());
///   ...
/// }, ndl::nd_range{{n}, {64}}, a, ndl::local_accessor<float, 1>{{64}});
/// @endcode
template <class T, int Dim = 1>
class local_accessor {
  static_assert(Dim >= 1 && Dim <= 3, "ndl::local_accessor has 1, 2 or 3 dimensions");

 public:
  using value_type = T;
  static constexpr int dimensions = Dim;

  /// Local memory of `shape` elements per work-group.
  NDL_KERNEL_FN explicit local_accessor(range<Dim> shape) {
    for (int d = 0; d < Dim; ++d)
      shape_[d] = shape[d];
  }

  /// The element at indices `i...` (row-major).
  template <class... I>
  requires(sizeof...(I) == Dim) NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator()(I... i) const {
#if defined(__CUDA_ARCH__)
    // Shared memory is far below 4 GiB: 32-bit index arithmetic is exact and cheaper.
    const unsigned idx[] = {static_cast<unsigned>(i)...};
    unsigned lin = idx[0];
    for (int d = 1; d < Dim; ++d)
      lin = lin * static_cast<unsigned>(shape_[d]) + idx[d];
#else
    const size_t idx[] = {static_cast<size_t>(i)...};
    size_t lin = idx[0];
    for (int d = 1; d < Dim; ++d)
      lin = lin * shape_[d] + idx[d];
#endif
    return data_[lin];
  }
  /// The element at index `i` of a 1-D accessor.
  NDL_KERNEL_FN NDL_ALWAYS_INLINE T& operator[](size_t i) const requires(Dim == 1) {
#if defined(__CUDA_ARCH__)
    return data_[static_cast<unsigned>(i)];
#else
    return data_[i];
#endif
  }

  /// The shape.
  NDL_KERNEL_FN range<Dim> get_range() const {
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
  /// The number of bytes per work-group.
  NDL_KERNEL_FN size_t bytes() const {
    return size() * sizeof(T);
  }
  /// The first element (valid inside a kernel).
  NDL_KERNEL_FN T* data() const {
    return data_;
  }

 private:
  friend struct detail::local_binding;
  local_accessor() = default;
  T* data_ = nullptr;
  size_t offset_ = 0;  // bytes into the work-group's local memory block
  size_t shape_[Dim] = {};
};

namespace detail {
template <class T>
inline constexpr bool is_local_accessor_v = false;
template <class T, int Dim>
inline constexpr bool is_local_accessor_v<local_accessor<T, Dim>> = true;

/// Places local accessors in a work-group's local memory block (launch machinery only).
struct local_binding {
  /// Assigns the accessor the next offset in the block; returns the new end of the block.
  template <class T, int Dim>
  static size_t place(local_accessor<T, Dim>& acc, size_t end) {
    if (acc.size() == 0) throw_empty_local_accessor();
    constexpr size_t align = alignof(T) > 16 ? alignof(T) : 16;
    acc.offset_ = (end + align - 1) / align * align;
    return acc.offset_ + acc.bytes();
  }
  /// An accessor of `shape` already placed at byte `offset` of the block (the arguments of
  /// kernels compiled apart from their launcher, which placed them).
  template <class T, int Dim>
  NDL_KERNEL_FN static local_accessor<T, Dim> placed(const size_t* shape, size_t offset) {
    local_accessor<T, Dim> acc;
    for (int d = 0; d < Dim; ++d)
      acc.shape_[d] = shape[d];
    acc.offset_ = offset;
    return acc;
  }
  /// Points the accessor into `block`.
  template <class T, int Dim>
  NDL_KERNEL_FN static void bind(local_accessor<T, Dim>& acc, void* block) {
    acc.data_ = reinterpret_cast<T*>(static_cast<char*>(block) + acc.offset_);
  }
};
}  // namespace detail

}  // namespace ndl
