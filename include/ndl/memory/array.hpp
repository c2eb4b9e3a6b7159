/// @file array.hpp
/// `ndl::array<T, Dim>`: an owning, reference-counted n-dimensional array bound to a queue.
#pragma once

#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "ndl/memory/usm.hpp"
#include "ndl/memory/view.hpp"

namespace ndl {

/// Element order of a new array.
enum class layout {
  c,  ///< row-major: the last dimension is contiguous
  f,  ///< column-major (Fortran): the first dimension is contiguous
};

/// A strided selection of one dimension: `start, start + step, ...` up to (excluding) `stop`.
///
/// `step` may be negative: `slice(n - 1, -1, -1)` selects a whole dimension of extent n in
/// reverse. Indices are not wrapped: a slice must lie inside the dimension (an empty one may
/// start just past either end: `slice(n, n)`, or backwards `slice(-1, -1, -1)`).
struct slice {
  ptrdiff_t start = 0;
  ptrdiff_t stop = 0;
  ptrdiff_t step = 1;
  slice(ptrdiff_t start_, ptrdiff_t stop_, ptrdiff_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
};

/// Selects a whole dimension when slicing: `a(ndl::all, ndl::slice(0, 4))`.
struct all_t {
  explicit constexpr all_t() = default;
};
/// Selects a whole dimension when slicing.
inline constexpr all_t all{};

namespace detail {

/// One USM allocation and the queue it belongs to; arrays and views of it share it.
class NDL_API usm_block {
 public:
  usm_block(size_t bytes, const queue& q, usm_kind kind);
  ~usm_block();
  usm_block(const usm_block&) = delete;
  usm_block& operator=(const usm_block&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  const queue& get_queue() const { return queue_; }
  usm_kind kind() const { return kind_; }

 private:
  void* data_;
  size_t bytes_;
  queue queue_;
  usm_kind kind_;
};

/// Copies a strided array to contiguous host memory in row-major order, after `deps`;
/// `owner` (the array's allocation) is kept alive until the copy's event completes.
NDL_API event copy_strided_to_host(const queue& q, std::shared_ptr<const void> owner,
                                   const void* src, size_t elem_size, int dims, const size_t* shape,
                                   const ptrdiff_t* strides, void* dst, event_list deps);
/// Copies contiguous row-major host memory into a strided array, after `deps`; `owner` is
/// kept alive until the copy's event completes.
NDL_API event copy_host_to_strided(const queue& q, std::shared_ptr<const void> owner,
                                   const void* src, size_t elem_size, int dims, const size_t* shape,
                                   const ptrdiff_t* strides, void* dst, event_list deps);
/// Throws invalid_argument for a slice outside its dimension.
[[noreturn]] NDL_API void throw_bad_slice(int dim, size_t extent, ptrdiff_t start, ptrdiff_t stop,
                                          ptrdiff_t step);
/// Throws invalid_argument for an index outside its dimension.
[[noreturn]] NDL_API void throw_bad_index(int dim, size_t extent, ptrdiff_t index);
/// Throws invalid_argument: the array is default-constructed.
[[noreturn]] NDL_API void throw_empty_array();
/// Throws invalid_argument for a host buffer whose size does not match the array's.
[[noreturn]] NDL_API void throw_size_mismatch(size_t expected, size_t got);
/// Throws out_of_memory: an array shape whose element count does not fit a signed 64-bit
/// integer (strides and offsets are signed).
[[noreturn]] NDL_API void throw_shape_overflow(int dims, const size_t* shape);

/// The number of elements of `shape`, checked: a product that overflows throws instead of
/// wrapping to a small (or zero) size. A zero extent anywhere makes the count zero.
template <int Dim>
size_t checked_element_count(const range<Dim>& shape) {
  size_t n = 1;
  for (int d = 0; d < Dim; ++d)
    if (shape[d] == 0) return 0;
  for (int d = 0; d < Dim; ++d)
    if (__builtin_mul_overflow(n, shape[d], &n) ||
        n > static_cast<size_t>(std::numeric_limits<ptrdiff_t>::max())) {
      size_t extents[Dim];
      for (int e = 0; e < Dim; ++e)
        extents[e] = shape[e];
      throw_shape_overflow(Dim, extents);
    }
  return n;
}

template <class S>
inline constexpr bool is_index_v = std::is_integral_v<S>;

}  // namespace detail

/// An owning, reference-counted n-dimensional array on a queue's device.
///
/// Copies of an array share its memory (like `std::shared_ptr`); slicing makes strided
/// arrays that share it too. Shape and strides are in elements. The memory is freed when the
/// last array (and the last launch keeping it alive) lets go of it. Passed to
/// `call_kernel`, an array arrives in the kernel as an `ndl::view<T, Dim>`.
///
/// Host transfers (`to_host`, `copy_from_host`, the factories) run on the array's queue: on an
/// in-order queue they follow earlier commands; on an out-of-order queue pass the events to
/// wait for.
///
/// @code
/// auto a = ndl::array<float, 2>::zeros({rows, cols});       // default queue, C order
/// auto every_other_row = a(ndl::slice(0, rows, 2), ndl::all);
/// std::vector<float> host = every_other_row.to_host();
/// @endcode
template <class T, int Dim = 1>
class array {
  static_assert(std::is_trivially_copyable_v<T>, "ndl::array needs a trivially copyable type");
  static_assert(!std::is_const_v<T>, "ndl::array<const T> is not supported; use view<const T>");

 public:
  using value_type = T;
  static constexpr int dimensions = Dim;

  /// An array of no elements that owns nothing and has no queue.
  array() = default;

  /// An uninitialised array of `shape` on `q` (default: the default queue).
  /// @throws ndl::error (errc::out_of_memory) when the allocation fails.
  explicit array(range<Dim> shape, const queue& q = queue{}, layout order = layout::c,
                 usm_kind kind = usm_kind::device) {
    for (int d = 0; d < Dim; ++d)
      shape_[d] = shape[d];
    const size_t n = detail::checked_element_count(shape);
    owner_ = std::make_shared<detail::usm_block>(detail::checked_bytes<T>(n), q, kind);
    data_ = static_cast<T*>(owner_->data());
    // Every partial product of a non-empty array is at most its element count, which fits a
    // ptrdiff_t; an empty one is never indexed, and its strides may wrap (unsigned: defined).
    size_t s = 1;
    if (order == layout::c) {
      for (int d = Dim - 1; d >= 0; --d) {
        strides_[d] = static_cast<ptrdiff_t>(s);
        s *= shape[d];
      }
    } else {
      for (int d = 0; d < Dim; ++d) {
        strides_[d] = static_cast<ptrdiff_t>(s);
        s *= shape[d];
      }
    }
  }

  /// An uninitialised array.
  static array empty(range<Dim> shape, const queue& q = queue{}, layout order = layout::c) {
    return array(shape, q, order);
  }
  /// An array of zeros (all bytes zero).
  static array zeros(range<Dim> shape, const queue& q = queue{}, layout order = layout::c) {
    return full(shape, T{}, q, order);
  }
  /// An array with every element equal to `value`.
  static array full(range<Dim> shape, const T& value, const queue& q = queue{},
                    layout order = layout::c) {
    array a(shape, q, order);
    q.fill(a.data_, value, shape.size());
    return a;
  }
  /// An array holding a copy of `host`, read in row-major order.
  /// @throws ndl::error (errc::invalid_argument) when `host.size() != shape.size()`.
  static array from_host(std::span<const T> host, range<Dim> shape, const queue& q = queue{},
                         layout order = layout::c) {
    array a(shape, q, order);
    a.copy_from_host(host);
    return a;
  }
  /// A 1-D array holding a copy of `host`.
  static array from_host(std::span<const T> host, const queue& q = queue{}) requires(Dim == 1) {
    return from_host(host, range<1>{host.size()}, q);
  }

  /// The queue the array is bound to.
  /// @throws ndl::error (errc::invalid_argument) for a default-constructed array.
  const queue& get_queue() const {
    if (!owner_) detail::throw_empty_array();
    return owner_->get_queue();
  }
  /// True for a default-constructed array (no memory, no queue).
  bool is_null() const { return owner_ == nullptr; }
  /// The shape.
  range<Dim> shape() const {
    range<Dim> r;
    for (int d = 0; d < Dim; ++d)
      r[d] = shape_[d];
    return r;
  }
  /// The extent of dimension `d`.
  size_t shape(int d) const { return shape_[d]; }
  /// The stride of dimension `d`, in elements.
  ptrdiff_t stride(int d) const { return strides_[d]; }
  /// The number of elements.
  size_t size() const {
    size_t n = 1;
    for (int d = 0; d < Dim; ++d)
      n *= shape_[d];
    return n;
  }
  /// The address of element (0, ..., 0) (device memory: do not dereference on the host
  /// unless the device is the CPU).
  T* data() const { return data_; }
  /// The USM allocation (shared with slices and kept alive by async launches).
  const std::shared_ptr<detail::usm_block>& owner() const { return owner_; }
  /// True when the elements are contiguous in row-major order.
  bool is_c_contiguous() const {
    ptrdiff_t s = 1;
    for (int d = Dim - 1; d >= 0; --d) {
      if (shape_[d] != 1 && strides_[d] != s) return false;
      s *= static_cast<ptrdiff_t>(shape_[d]);
    }
    return true;
  }
  /// True when the elements are contiguous in column-major order.
  bool is_f_contiguous() const {
    ptrdiff_t s = 1;
    for (int d = 0; d < Dim; ++d) {
      if (shape_[d] != 1 && strides_[d] != s) return false;
      s *= static_cast<ptrdiff_t>(shape_[d]);
    }
    return true;
  }

  /// The kernel-side view of the array.
  view<T, Dim> get_view() const { return view<T, Dim>(data_, shape_sizes(), strides_); }

  /// Copies the elements to a new host vector in row-major order and waits for the copy.
  /// @throws ndl::error an error of the copy or of a dependency.
  std::vector<T> to_host(event_list deps = {}) const {
    std::vector<T> out(size());
    copy_to_host(std::span<T>(out), deps);
    return out;
  }
  /// Copies the elements into `host` in row-major order and waits for the copy.
  /// @throws ndl::error (errc::invalid_argument) when `host.size() != size()`.
  void copy_to_host(std::span<T> host, event_list deps = {}) const {
    copy_to_host_async(host, deps).wait();
  }
  /// Copies the elements into `host` (row-major) after `deps`; returns the copy's event.
  /// The array's memory stays allocated until the copy completes; `host` must stay valid.
  /// @throws ndl::error (errc::invalid_argument) when `host.size() != size()`.
  event copy_to_host_async(std::span<T> host, event_list deps = {}) const {
    if (host.size() != size()) detail::throw_size_mismatch(size(), host.size());
    if (size() == 0) return {};
    return detail::copy_strided_to_host(get_queue(), owner_, data_, sizeof(T), Dim, shape_sizes(),
                                        strides_, host.data(), deps);
  }
  /// Overwrites the elements with `host`, read in row-major order, and waits for the copy.
  /// @throws ndl::error (errc::invalid_argument) when `host.size() != size()`.
  void copy_from_host(std::span<const T> host, event_list deps = {}) const {
    copy_from_host_async(host, deps).wait();
  }
  /// Overwrites the elements with `host` (row-major) after `deps`; returns the copy's event.
  /// `host` must stay valid until the event completes; the array's memory stays allocated.
  /// @throws ndl::error (errc::invalid_argument) when `host.size() != size()`.
  event copy_from_host_async(std::span<const T> host, event_list deps = {}) const {
    if (host.size() != size()) detail::throw_size_mismatch(size(), host.size());
    if (size() == 0) return {};
    return detail::copy_host_to_strided(get_queue(), owner_, host.data(), sizeof(T), Dim,
                                        shape_sizes(), strides_, data_, deps);
  }

  /// Selects a sub-array sharing this one's memory. Each argument is an integer (the
  /// dimension is dropped), an `ndl::slice` or `ndl::all`.
  /// @throws ndl::error (errc::invalid_argument) for an index or slice outside its dimension.
  template <class... S>
  requires(sizeof...(S) == Dim) auto operator()(const S&... sel) const {
    constexpr int kept = (0 + ... + (detail::is_index_v<S> ? 0 : 1));
    static_assert(kept >= 1, "ndl::array: slicing must keep at least one dimension");
    array<T, kept> out;
    out.owner_ = owner_;
    ptrdiff_t offset = 0;
    int d = 0, k = 0;
    (select(sel, d++, k, offset, out), ...);
    out.data_ = data_ + offset;
    return out;
  }

 private:
  template <class, int>
  friend class array;

  const size_t* shape_sizes() const { return shape_; }

  template <class S, class Out>
  void select(const S& sel, int d, int& k, ptrdiff_t& offset, Out& out) const {
    const auto extent = static_cast<ptrdiff_t>(shape_[d]);
    if constexpr (detail::is_index_v<S>) {
      const auto i = static_cast<ptrdiff_t>(sel);
      if (i < 0 || i >= extent) detail::throw_bad_index(d, shape_[d], i);
      offset += i * strides_[d];
    } else if constexpr (std::is_same_v<S, all_t>) {
      out.shape_[k] = shape_[d];
      out.strides_[k] = strides_[d];
      ++k;
    } else {
      static_assert(std::is_same_v<S, slice>, "ndl::array: select with an integer, slice or all");
      size_t count = 0;
      if (sel.step > 0 && 0 <= sel.start && sel.start <= sel.stop && sel.stop <= extent) {
        count = static_cast<size_t>((sel.stop - sel.start + sel.step - 1) / sel.step);
      } else if (sel.step < 0 && -1 <= sel.stop && sel.stop <= sel.start && sel.start < extent) {
        count = static_cast<size_t>((sel.start - sel.stop + (-sel.step) - 1) / (-sel.step));
      } else if (!(sel.step != 0 && sel.start == sel.stop && sel.start >= 0 &&
                   sel.start <= extent)) {
        detail::throw_bad_slice(d, shape_[d], sel.start, sel.stop, sel.step);
      }
      if (count != 0) offset += sel.start * strides_[d];
      out.shape_[k] = count;
      out.strides_[k] = strides_[d] * sel.step;
      ++k;
    }
  }

  std::shared_ptr<detail::usm_block> owner_;
  T* data_ = nullptr;
  size_t shape_[Dim] = {};
  ptrdiff_t strides_[Dim] = {};
};

}  // namespace ndl
