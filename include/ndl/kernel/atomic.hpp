/// @file atomic.hpp
/// `ndl::atomic_ref` and `ndl::atomic_fence`: atomics on global arrays and local memory.
#pragma once

#include "ndl/kernel/memory_enums.hpp"
#include "ndl/range.hpp"

#if defined(__CUDA_ARCH__)
#include <cuda/atomic>
#endif

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

#if defined(__CUDA_ARCH__)
/// The libcu++ order of an ndl::memory_order.
__device__ constexpr cuda::std::memory_order cuda_order(memory_order o) {
  switch (o) {
    case memory_order::relaxed:
      return cuda::std::memory_order_relaxed;
    case memory_order::acquire:
    case memory_order::consume_unsupported:
      return cuda::std::memory_order_acquire;
    case memory_order::release:
      return cuda::std::memory_order_release;
    case memory_order::acq_rel:
      return cuda::std::memory_order_acq_rel;
    case memory_order::seq_cst:
      return cuda::std::memory_order_seq_cst;
  }
  return cuda::std::memory_order_seq_cst;
}
__device__ constexpr cuda::std::memory_order cuda_load_order(memory_order o) {
  return o == memory_order::release   ? cuda::std::memory_order_relaxed
         : o == memory_order::acq_rel ? cuda::std::memory_order_acquire
                                      : cuda_order(o);
}
__device__ constexpr cuda::std::memory_order cuda_store_order(memory_order o) {
  return (o == memory_order::acquire || o == memory_order::consume_unsupported)
             ? cuda::std::memory_order_relaxed
         : o == memory_order::acq_rel ? cuda::std::memory_order_release
                                      : cuda_order(o);
}
/// The libcu++ thread scope of an ndl::memory_scope (work-items of a group share a block).
template <memory_scope Scope>
inline constexpr cuda::thread_scope cuda_scope =
    Scope == memory_scope::system   ? cuda::thread_scope_system
    : Scope == memory_scope::device ? cuda::thread_scope_device
                                    : cuda::thread_scope_block;
#endif

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
#if defined(__CUDA_ARCH__)
    return dev().load(detail::cuda_load_order(Order));
#else
    T v;
    __atomic_load(ptr_, &v, detail::load_order(Order));
    return v;
#endif
  }
  /// Atomically writes `v`.
  NDL_KERNEL_FN void store(T v) const {
#if defined(__CUDA_ARCH__)
    dev().store(v, detail::cuda_store_order(Order));
#else
    __atomic_store(ptr_, &v, detail::store_order(Order));
#endif
  }
  /// Atomically replaces the value by `v`; returns the old value.
  NDL_KERNEL_FN T exchange(T v) const {
#if defined(__CUDA_ARCH__)
    return dev().exchange(v, detail::cuda_order(Order));
#else
    T old;
    __atomic_exchange(ptr_, &v, &old, detail::builtin_order(Order));
    return old;
#endif
  }
  /// If the value equals `expected`, replaces it by `desired` and returns true; otherwise
  /// writes the value observed into `expected` and returns false (a strong exchange).
  NDL_KERNEL_FN bool compare_exchange(T& expected, T desired) const {
#if defined(__CUDA_ARCH__)
    return dev().compare_exchange_strong(expected, desired, detail::cuda_order(Order),
                                         detail::cuda_load_order(Order));
#else
    return __atomic_compare_exchange(ptr_, &expected, &desired, false, detail::builtin_order(Order),
                                     detail::load_order(Order));
#endif
  }

  /// Adds `v`; returns the old value.
  NDL_KERNEL_FN T fetch_add(T v) const {
#if defined(__CUDA_ARCH__)
    return dev().fetch_add(v, detail::cuda_order(Order));
#else
    if constexpr (detail::atomic_type<T>::integral)
      return __atomic_fetch_add(ptr_, v, detail::builtin_order(Order));
    else
      return update([v](T old) { return old + v; });
#endif
  }
  /// Subtracts `v`; returns the old value.
  NDL_KERNEL_FN T fetch_sub(T v) const {
#if defined(__CUDA_ARCH__)
    return dev().fetch_sub(v, detail::cuda_order(Order));
#else
    if constexpr (detail::atomic_type<T>::integral)
      return __atomic_fetch_sub(ptr_, v, detail::builtin_order(Order));
    else
      return update([v](T old) { return old - v; });
#endif
  }
  /// Stores the minimum of the value and `v`; returns the old value.
  NDL_KERNEL_FN T fetch_min(T v) const {
#if defined(__CUDA_ARCH__)
    if constexpr (detail::atomic_type<T>::integral)
      return dev().fetch_min(v, detail::cuda_order(Order));
    else
#endif
      return update([v](T old) { return v < old ? v : old; });
  }
  /// Stores the maximum of the value and `v`; returns the old value.
  NDL_KERNEL_FN T fetch_max(T v) const {
#if defined(__CUDA_ARCH__)
    if constexpr (detail::atomic_type<T>::integral)
      return dev().fetch_max(v, detail::cuda_order(Order));
    else
#endif
      return update([v](T old) { return v > old ? v : old; });
  }
  /// Bitwise and with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_and(T v) const requires(detail::atomic_type<T>::integral) {
#if defined(__CUDA_ARCH__)
    return dev().fetch_and(v, detail::cuda_order(Order));
#else
    return __atomic_fetch_and(ptr_, v, detail::builtin_order(Order));
#endif
  }
  /// Bitwise or with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_or(T v) const requires(detail::atomic_type<T>::integral) {
#if defined(__CUDA_ARCH__)
    return dev().fetch_or(v, detail::cuda_order(Order));
#else
    return __atomic_fetch_or(ptr_, v, detail::builtin_order(Order));
#endif
  }
  /// Bitwise xor with `v` (integers only); returns the old value.
  NDL_KERNEL_FN T fetch_xor(T v) const requires(detail::atomic_type<T>::integral) {
#if defined(__CUDA_ARCH__)
    return dev().fetch_xor(v, detail::cuda_order(Order));
#else
    return __atomic_fetch_xor(ptr_, v, detail::builtin_order(Order));
#endif
  }

 private:
  // Compare-and-swap loop for the operations without a builtin.
  template <class F>
  NDL_KERNEL_FN T update(F f) const {
#if defined(__CUDA_ARCH__)
    T old = dev().load(cuda::std::memory_order_relaxed);
    while (!dev().compare_exchange_weak(old, f(old), detail::cuda_order(Order),
                                        cuda::std::memory_order_relaxed)) {
    }
    return old;
#else
    T old;
    __atomic_load(ptr_, &old, __ATOMIC_RELAXED);
    for (;;) {
      T next = f(old);
      if (__atomic_compare_exchange(ptr_, &old, &next, true, detail::builtin_order(Order),
                                    __ATOMIC_RELAXED))
        return old;
    }
#endif
  }

#if defined(__CUDA_ARCH__)
  __device__ cuda::atomic_ref<T, detail::cuda_scope<Scope>> dev() const {
    return cuda::atomic_ref<T, detail::cuda_scope<Scope>>(*ptr_);
  }
#endif

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
NDL_KERNEL_FN inline void atomic_fence(memory_order order, [[maybe_unused]] memory_scope scope) {
#if defined(__CUDA_ARCH__)
  const auto o = detail::cuda_order(order);
  if (scope == memory_scope::system)
    cuda::atomic_thread_fence(o, cuda::thread_scope_system);
  else if (scope == memory_scope::device)
    cuda::atomic_thread_fence(o, cuda::thread_scope_device);
  else
    cuda::atomic_thread_fence(o, cuda::thread_scope_block);
#elif defined(__SANITIZE_THREAD__)
  __atomic_fetch_add(&detail::tsan_fence_word, 0, detail::builtin_order(order));
#else
  __atomic_thread_fence(detail::builtin_order(order));
#endif
}

}  // namespace ndl
