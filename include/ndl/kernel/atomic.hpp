/// @file atomic.hpp
/// `ndl::atomic_ref` and `ndl::atomic_fence`: atomics on global arrays and local memory.
#pragma once

#include "ndl/kernel/memory_enums.hpp"
#include "ndl/range.hpp"

namespace ndl {

namespace detail {

template <class T>
struct atomic_type {
  static constexpr bool supported = false;
  static constexpr bool integral = false;
};
template <>
struct atomic_type<int> {
  static constexpr bool supported = true, integral = true;
};
template <>
struct atomic_type<unsigned> {
  static constexpr bool supported = true, integral = true;
};
template <>
struct atomic_type<long> {
  static constexpr bool supported = sizeof(long) == 8, integral = true;
};
template <>
struct atomic_type<unsigned long> {
  static constexpr bool supported = sizeof(long) == 8, integral = true;
};
template <>
struct atomic_type<long long> {
  static constexpr bool supported = true, integral = true;
};
template <>
struct atomic_type<unsigned long long> {
  static constexpr bool supported = true, integral = true;
};
template <>
struct atomic_type<float> {
  static constexpr bool supported = true, integral = false;
};
template <>
struct atomic_type<double> {
  static constexpr bool supported = true, integral = false;
};

/// The compiler builtin's constant for an ndl::memory_order.
constexpr int builtin_order(memory_order o) {
  switch (o) {
    case memory_order::relaxed:
      return __ATOMIC_RELAXED;
    case memory_order::acquire:
      return __ATOMIC_ACQUIRE;
    case memory_order::consume_unsupported:
      return __ATOMIC_ACQUIRE;
    case memory_order::release:
      return __ATOMIC_RELEASE;
    case memory_order::acq_rel:
      return __ATOMIC_ACQ_REL;
    case memory_order::seq_cst:
      return __ATOMIC_SEQ_CST;
  }
  return __ATOMIC_SEQ_CST;
}

/// The order a load may use for `o` (loads cannot release).
constexpr int load_order(memory_order o) {
  return o == memory_order::release   ? __ATOMIC_RELAXED
         : o == memory_order::acq_rel ? __ATOMIC_ACQUIRE
                                      : builtin_order(o);
}
/// The order a store may use for `o` (stores cannot acquire).
constexpr int store_order(memory_order o) {
  return (o == memory_order::acquire || o == memory_order::consume_unsupported) ? __ATOMIC_RELAXED
         : o == memory_order::acq_rel                                           ? __ATOMIC_RELEASE
                                                                                : builtin_order(o);
}

}  // namespace detail

/// An atomic view of one element of a global array or of local memory
/// (numba-dpex `AtomicRef`).
///
/// `T` is int32, uint32, int64, uint64, float or double. Integer types support every
/// operation; `fetch_and/or/xor` on floating point types do not compile. Read-modify-write
/// operations return the value held before them. `Scope` and `Space` describe the
/// synchronisation intended (work-group atomics on local memory are cheaper on GPUs); on the
/// CPU device every atomic is device-wide.
///
/// @code
/// ndl::atomic_ref<int> counter(hist[bin]);
/// counter.fetch_add(1);
/// @endcode
template <class T, memory_order Order = memory_order::relaxed,
          memory_scope Scope = memory_scope::device,
          address_space Space = address_space::global_space>
class atomic_ref {
  static_assert(detail::atomic_type<T>::supported,
                "ndl::atomic_ref supports int32, uint32, int64, uint64, float and double");
  static_assert(Space == address_space::global_space || Space == address_space::local_space ||
                    Space == address_space::generic_space,
                "ndl::atomic_ref refers to global or local memory");

 public:
  using value_type = T;
  static constexpr memory_order order = Order;
  static constexpr memory_scope scope = Scope;
  static constexpr address_space space = Space;

  /// Refers to `ref` (an element of an array view or a local accessor).
  NDL_KERNEL_FN explicit atomic_ref(T& ref) : ptr_(&ref) {}

  /// Atomically reads the value.
  // The generic builtins (not the _n forms) accept floating point types as well.
  NDL_KERNEL_FN T load() const {
    T v;
    __atomic_load(ptr_, &v, detail::load_order(Order));
    return v;
  }
  /// Atomically writes `v`.
  NDL_KERNEL_FN void store(T v) const { __atomic_store(ptr_, &v, detail::store_order(Order)); }
  /// Atomically replaces the value by `v`; returns the old value.
  NDL_KERNEL_FN T exchange(T v) const {
    T old;
    __atomic_exchange(ptr_, &v, &old, detail::builtin_order(Order));
    return old;
  }
  /// If the value equals `expected`, replaces it by `desired` and returns true; otherwise
  /// writes the value observed into `expected` and returns false (a strong exchange).
  NDL_KERNEL_FN bool compare_exchange(T& expected, T desired) const {
    return __atomic_compare_exchange(ptr_, &expected, &desired, false, detail::builtin_order(Order),
                                     detail::load_order(Order));
  }

  /// Adds `v`; returns the old value.
  NDL_KERNEL_FN T fetch_add(T v) const {
    if constexpr (detail::atomic_type<T>::integral)
      return __atomic_fetch_add(ptr_, v, detail::builtin_order(Order));
    else
      return update([v](T old) { return old + v; });
  }
  /// Subtracts `v`; returns the old value.
  NDL_KERNEL_FN T fetch_sub(T v) const {
    if constexpr (detail::atomic_type<T>::integral)
      return __atomic_fetch_sub(ptr_, v, detail::builtin_order(Order));
    else
      return update([v](T old) { return old - v; });
  }
  /// Stores the minimum of the value and `v`; returns the old value.
  NDL_KERNEL_FN T fetch_min(T v) const {
    return update([v](T old) { return v < old ? v : old; });
  }
  /// Stores the maximum of the value and `v`; returns the old value.
  NDL_KERNEL_FN T fetch_max(T v) const {
    return update([v](T old) { return v > old ? v : old; });
  }
  /// Bitwise and with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_and(T v) const requires(detail::atomic_type<T>::integral) {
    return __atomic_fetch_and(ptr_, v, detail::builtin_order(Order));
  }
  /// Bitwise or with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_or(T v) const requires(detail::atomic_type<T>::integral) {
    return __atomic_fetch_or(ptr_, v, detail::builtin_order(Order));
  }
  /// Bitwise xor with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_xor(T v) const requires(detail::atomic_type<T>::integral) {
    return __atomic_fetch_xor(ptr_, v, detail::builtin_order(Order));
  }

 private:
  // Compare-and-swap loop for the operations without a builtin.
  template <class F>
  NDL_KERNEL_FN T update(F f) const {
    T old;
    __atomic_load(ptr_, &old, __ATOMIC_RELAXED);
    for (;;) {
      T next = f(old);
      if (__atomic_compare_exchange(ptr_, &old, &next, true, detail::builtin_order(Order),
                                    __ATOMIC_RELAXED))
        return old;
    }
  }

  T* ptr_;
};

namespace detail {
#if defined(__SANITIZE_THREAD__) && !defined(__CUDA_ARCH__)
/// ThreadSanitizer does not model fences: under it, atomic_fence is an atomic
/// read-modify-write of this word with the same order, which it does understand.
inline int tsan_fence_word = 0;
#endif
}  // namespace detail

/// Orders memory accesses around it as `order` says, for the work-items of `scope`.
NDL_KERNEL_FN inline void atomic_fence(memory_order order, memory_scope /*scope*/) {
#if defined(__SANITIZE_THREAD__) && !defined(__CUDA_ARCH__)
  __atomic_fetch_add(&detail::tsan_fence_word, 0, detail::builtin_order(order));
#else
  __atomic_thread_fence(detail::builtin_order(order));
#endif
}

}  // namespace ndl
