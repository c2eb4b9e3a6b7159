/// @file launch.hpp
/// The launcher: `ndl::call_kernel` and `ndl::call_kernel_async`.
#pragma once

#include <array>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ndl/detail/cpu_entry.hpp"
#include "ndl/detail/cuda_entry.hpp"
#include "ndl/detail/launch_record.hpp"
#include "ndl/kernel/local_accessor.hpp"
#include "ndl/memory/array.hpp"
#include "ndl/nd_range.hpp"
#include "ndl/queue.hpp"

namespace ndl {

/// A kernel with a name, used by error messages: `ndl::named("scale", kernel)`.
template <class Kernel>
struct named_kernel {
  const char* name;  ///< must outlive the launch (a string literal)
  Kernel kernel;
};

/// Gives `kernel` a name for error messages (instead of its demangled type).
///
/// @code
/// ndl::call_kernel(ndl::named("scale", [](ndl::item<1> it, ndl::view<float, 1> a) {
///   a[it.get_id(0)] *= 2;
/// }), ndl::range{n}, a);
/// @endcode
template <class Kernel>
named_kernel<Kernel> named(const char* name, Kernel kernel) {
  return {name, std::move(kernel)};
}

/// A kernel that runs on CPU devices only: `ndl::cpu_only(kernel)`.
template <class Kernel>
struct cpu_only_kernel {
  Kernel kernel;
};

/// Marks `kernel` as host-only C++ (it throws, blocks, or uses host memory or the standard
/// library): the CUDA compiler then builds no GPU entry point for it, and launching it on a
/// CUDA queue raises `errc::unsupported`. Needed only in files compiled by nvcc, for kernels
/// that are not `NDL_KERNEL_FN`; elsewhere every kernel is CPU-only anyway.
///
/// @code
/// ndl::call_kernel(cpu_queue, ndl::cpu_only([&](ndl::item<1> it) {
///   if (it.get_id(0) == 0) throw std::runtime_error("reported by the launch");
/// }), ndl::range{n});
/// @endcode
template <class Kernel>
cpu_only_kernel<Kernel> cpu_only(Kernel kernel) {
  return {std::move(kernel)};
}

namespace detail {

/// Unwraps ndl::named and ndl::cpu_only; says whether the kernel gets a CUDA entry point.
template <class Kernel>
struct kernel_traits {
  using type = std::decay_t<Kernel>;  // a function becomes a function pointer
  /// Function pointers are host functions: they get no CUDA entry point.
  static constexpr bool cuda = !std::is_pointer_v<type>;
  static const Kernel& get(const Kernel& k) { return k; }
  static const char* name(const Kernel&) { return nullptr; }
};
template <class Kernel>
struct kernel_traits<named_kernel<Kernel>> {
  using inner = kernel_traits<Kernel>;
  using type = typename inner::type;
  static constexpr bool cuda = inner::cuda;
  static const auto& get(const named_kernel<Kernel>& k) { return inner::get(k.kernel); }
  static const char* name(const named_kernel<Kernel>& k) { return k.name; }
};
template <class Kernel>
struct kernel_traits<cpu_only_kernel<Kernel>> {
  using inner = kernel_traits<Kernel>;
  using type = typename inner::type;
  static constexpr bool cuda = false;
  static const auto& get(const cpu_only_kernel<Kernel>& k) { return inner::get(k.kernel); }
  static const char* name(const cpu_only_kernel<Kernel>& k) { return inner::name(k.kernel); }
};

/// How one host-side argument becomes a kernel argument.
///
/// Scalars, pointers, views and other trivially copyable values pass by value.
template <class T>
struct kernel_arg {
  using kernel_type = T;
  static constexpr bool is_array = false;
  static const T& to_kernel(const T& v) { return v; }
};

/// An `ndl::array` arrives in the kernel as an `ndl::view` and is kept alive by async launches.
template <class T, int Dim>
struct kernel_arg<array<T, Dim>> {
  using kernel_type = view<T, Dim>;
  static constexpr bool is_array = true;
  static view<T, Dim> to_kernel(const array<T, Dim>& a) { return a.get_view(); }
};

template <class T>
using kernel_arg_t = typename kernel_arg<std::remove_cvref_t<T>>::kernel_type;

template <class T>
inline constexpr bool is_array_arg_v = kernel_arg<std::remove_cvref_t<T>>::is_array;

/// Tells a view which kernel argument it is, for out-of-bounds messages (checked builds;
/// otherwise returns it unchanged).
template <class T>
NDL_ALWAYS_INLINE T tag_arg(T v, [[maybe_unused]] int position) {
  if constexpr (is_view_v<T>) view_access::set_argument(v, position);
  return v;
}

template <size_t... I, class... Args>
std::tuple<kernel_arg_t<Args>...> pack_args_at(std::index_sequence<I...>, const Args&... args) {
  return {tag_arg<kernel_arg_t<Args>>(kernel_arg<std::remove_cvref_t<Args>>::to_kernel(args),
                                      static_cast<int>(I))...};
}

/// The kernel arguments of a launch, converted from the host-side ones.
template <class... Args>
std::tuple<kernel_arg_t<Args>...> pack_args(const Args&... args) {
  return pack_args_at(std::index_sequence_for<Args...>{}, args...);
}

template <class Space>
struct space_traits;
template <int Dim>
struct space_traits<range<Dim>> {
  using item_type = item<Dim>;
  static constexpr bool item_type_is_nd = false;
  static constexpr int dims = Dim;
  static index_space erase(const range<Dim>& r) {
    index_space s;
    s.dims = Dim;
    for (int d = 0; d < Dim; ++d)
      s.global[d] = r[d];
    return s;
  }
};
template <int Dim>
struct space_traits<nd_range<Dim>> {
  using item_type = nd_item<Dim>;
  static constexpr bool item_type_is_nd = true;
  static constexpr int dims = Dim;
  static index_space erase(const nd_range<Dim>& r) {
    index_space s;
    s.dims = Dim;
    s.is_nd = true;
    for (int d = 0; d < Dim; ++d) {
      s.global[d] = r.get_global_range()[d];
      s.local[d] = r.get_local_range()[d];
    }
    return s;
  }
};

template <class Space>
concept index_space_type = requires {
  space_traits<std::remove_cvref_t<Space>>::dims;
};

/// The kernel object and its converted arguments.
template <class Kernel, class... KArgs>
struct payload {
  Kernel kernel;
  std::tuple<KArgs...> args;

  /// True when some argument is a local_accessor.
  static constexpr bool has_local = (is_local_accessor_v<KArgs> || ...);

#if NDL_CHECKED
  /// The types of the kernel arguments (for out-of-bounds messages from GPUs).
  static const std::type_info* const* arg_types() {
    static const std::type_info* const types[] = {&typeid(KArgs)..., nullptr};
    return types;
  }
#endif

  /// Calls the kernel for one work-item on the CPU device.
  template <class Item>
  NDL_ALWAYS_INLINE void invoke(const Item& it) const {
    std::apply([&](const KArgs&... a) { kernel(it, a...); }, args);
  }

#if defined(__CUDACC__)
  /// Calls the kernel for one work-item on a CUDA device. (A separate function, so that a
  /// host-only kernel, which has no CUDA entry, never meets a __host__ __device__ caller.)
  template <class Item>
  __device__ NDL_ALWAYS_INLINE void invoke_device(const Item& it) const {
    std::apply([&](const KArgs&... a) { kernel(it, a...); }, args);
  }
#endif

  /// Lays the local accessors out in one block; returns its size in bytes.
  size_t place_local() {
    size_t end = 0;
    std::apply(
        [&](KArgs&... a) {
          (
              [&](auto& x) {
                if constexpr (is_local_accessor_v<std::remove_cvref_t<decltype(x)>>)
                  end = local_binding::place(x, end);
              }(a),
              ...);
        },
        args);
    return end;
  }

  /// Points the local accessors into `block` (a work-group's local memory).
  NDL_KERNEL_FN void bind_local(void* block) {
    std::apply(
        [&](KArgs&... a) {
          (
              [&](auto& x) {
                if constexpr (is_local_accessor_v<std::remove_cvref_t<decltype(x)>>)
                  local_binding::bind(x, block);
              }(a),
              ...);
        },
        args);
  }
};

/// Lays out the local accessors of a launch's payload; they need an nd_range launch.
template <class Payload, class Space>
size_t prepare_local(Payload& p, const Space& space, const char* name) {
  if constexpr (!Payload::has_local) {
    return 0;
  } else {
    if constexpr (!space_traits<Space>::item_type_is_nd)
      throw_local_with_range(typeid(p.kernel), name, space_traits<Space>::erase(space));
    return p.place_local();
  }
}

/// An async launch's payload plus the owners of its array arguments.
template <class Payload, size_t NumOwners>
struct owning_payload final : owned_payload {
  template <class... A>
  explicit owning_payload(A&&... a) : value{std::forward<A>(a)...} {}
  Payload value;
  std::array<std::shared_ptr<const void>, NumOwners> owners;
};

/// Checks the kernel's signature at compile time with a readable message.
template <class Kernel, class Item, class... KArgs>
constexpr bool kernel_signature_ok() {
  constexpr bool args_copyable = (std::is_trivially_copyable_v<KArgs> && ...);
  static_assert(args_copyable,
                "ndl: every kernel argument must be an ndl::array, an ndl::view, a scalar, a "
                "pointer or a trivially copyable struct (it is copied into the kernel)");
  constexpr bool invocable = std::is_invocable_v<const Kernel&, const Item&, const KArgs&...>;
  static_assert(invocable,
                "ndl: the kernel is not invocable as kernel(item, args...). A kernel launched "
                "over ndl::range<D> takes ndl::item<D> first, one launched over "
                "ndl::nd_range<D> takes ndl::nd_item<D>; then come the arguments, where each "
                "ndl::array<T, D> arrives as ndl::view<T, D> and every other argument by value");
  if constexpr (args_copyable && invocable) {
    static_assert(std::is_void_v<std::invoke_result_t<const Kernel&, const Item&, const KArgs&...>>,
                  "ndl: a kernel must return void");
    return true;
  } else {
    return false;
  }
}

/// The launch record of payload `p` over `space`; `Cuda`: whether to build a CUDA entry.
template <bool Cuda, class Payload, class Space>
kernel_record make_record(const Payload& p, const Space& space) {
  using traits = space_traits<Space>;
  kernel_record rec;
  rec.kernel_type = &typeid(decltype(p.kernel));
  rec.space = traits::erase(space);
  rec.payload = &p;
  rec.cpu_only = !Cuda;
#if NDL_CHECKED
  rec.arg_types = Payload::arg_types();
#endif
  if constexpr (std::is_same_v<typename traits::item_type, item<traits::dims>>) {
    rec.cpu_entry = &cpu_range_entry<Payload, traits::dims>;
#if defined(__CUDACC__)
    if constexpr (Cuda) rec.cuda_entry = &cuda_range_entry<Payload, traits::dims>;
#endif
  } else {
    rec.cpu_entry = &cpu_nd_entry<Payload, traits::dims>;
#if defined(__CUDACC__)
    if constexpr (Cuda) rec.cuda_entry = &cuda_nd_entry<Payload, traits::dims>;
#endif
  }
  return rec;
}

template <class... Args>
std::array<arg_placement, sizeof...(Args)> placements(const Args&... args) {
  std::array<arg_placement, sizeof...(Args)> out{};
  int pos = 0;
  size_t n = 0;
  (
      [&](const auto& a) {
        if constexpr (is_array_arg_v<decltype(a)>) {
          if (!a.owner()) throw_empty_array_argument(pos, typeid(a));
          out[n++] = arg_placement{pos, &typeid(a), a.get_queue().impl().get()};
        }
        ++pos;
      }(args),
      ...);
  return out;
}

template <class... Args>
inline constexpr size_t num_arrays = (size_t{0} + ... + (is_array_arg_v<Args> ? 1 : 0));

template <class Kernel, class... Args>
std::shared_ptr<queue_impl> queue_of_args(const Kernel& kernel, const Args&... args) {
  auto p = placements(args...);
  return infer_queue(typeid(typename kernel_traits<Kernel>::type),
                     kernel_traits<Kernel>::name(kernel), p.data(), num_arrays<Args...>);
}

template <class Kernel, class... Args>
void check_explicit_queue(const queue& q, const Kernel& kernel, const Args&... args) {
  if constexpr (num_arrays<Args...> != 0) {
    auto p = placements(args...);
    check_arg_devices(q.impl(), typeid(typename kernel_traits<Kernel>::type),
                      kernel_traits<Kernel>::name(kernel), p.data(), num_arrays<Args...>);
  }
}

template <class Kernel, class Space, class... Args>
void launch_sync(const std::shared_ptr<queue_impl>& q, const Kernel& kernel, const Space& space,
                 const Args&... args) {
  using item_type = typename space_traits<Space>::item_type;
  using K = typename kernel_traits<Kernel>::type;
  if constexpr (kernel_signature_ok<K, item_type, kernel_arg_t<Args>...>()) {
    using payload_t = payload<K, kernel_arg_t<Args>...>;
    payload_t p{kernel_traits<Kernel>::get(kernel), pack_args(args...)};
    const size_t local_bytes = prepare_local(p, space, kernel_traits<Kernel>::name(kernel));
    kernel_record rec = make_record<kernel_traits<Kernel>::cuda>(p, space);
    rec.name = kernel_traits<Kernel>::name(kernel);
    rec.local_bytes = local_bytes;
    submit_sync(q, rec);
  }
}

template <class Kernel, class Space, class... Args>
launch_events launch_async(const std::shared_ptr<queue_impl>& q, const Kernel& kernel,
                           const Space& space, event_list deps, const Args&... args) {
  using item_type = typename space_traits<Space>::item_type;
  using K = typename kernel_traits<Kernel>::type;
  if constexpr (kernel_signature_ok<K, item_type, kernel_arg_t<Args>...>()) {
    using payload_t = payload<K, kernel_arg_t<Args>...>;
    constexpr size_t n_owners = num_arrays<Args...>;
    auto owned = std::make_unique<owning_payload<payload_t, n_owners>>(
        kernel_traits<Kernel>::get(kernel), pack_args(args...));
    size_t n = 0;
    (
        [&](const auto& a) {
          if constexpr (is_array_arg_v<decltype(a)>) owned->owners[n++] = a.owner();
        }(args),
        ...);
    const size_t local_bytes =
        prepare_local(owned->value, space, kernel_traits<Kernel>::name(kernel));
    kernel_record rec = make_record<kernel_traits<Kernel>::cuda>(owned->value, space);
    rec.name = kernel_traits<Kernel>::name(kernel);
    rec.local_bytes = local_bytes;
    return submit_async(q, rec, std::move(owned), deps);
  } else {
    return {};
  }
}

}  // namespace detail

/// Runs `kernel` over `space` on the queue inferred from the array arguments, and blocks
/// until it has finished.
///
/// The kernel is any callable taking `ndl::item<D>` (for a `range<D>`) or `ndl::nd_item<D>`
/// (for an `nd_range<D>`) followed by the arguments: each `ndl::array<T, D>` arrives as an
/// `ndl::view<T, D>`, every other argument (scalars, pointers, views, trivially copyable
/// structs) by value. All array arguments must be on the same queue ("compute follows
/// data"); with none, the default queue is used.
///
/// @code
/// auto a = ndl::array<float>::full({n}, 1.0f), b = ndl::array<float>::zeros({n});
/// ndl::call_kernel([](ndl::item<1> it, ndl::view<float, 1> a, ndl::view<float, 1> b, float s) {
///   b[it.get_id(0)] = s * a[it.get_id(0)];
/// }, ndl::range{n}, a, b, 2.0f);
/// @endcode
///
/// @throws ndl::error queue_inference when array arguments are on different queues (naming
///         each); invalid_range when the index space exceeds the device's limits;
///         kernel_failure when a work-item throws (naming the kernel and the work-item).
template <class Kernel, class Space, class... Args>
requires(!std::is_same_v<std::remove_cvref_t<Kernel>, queue> &&
         detail::index_space_type<Space>) void call_kernel(const Kernel& kernel, const Space& space,
                                                           const Args&... args) {
  detail::launch_sync(detail::queue_of_args(kernel, args...), kernel, space, args...);
}

/// Runs `kernel` over `space` on the explicit queue `q` and blocks until it has finished.
/// @throws ndl::error invalid_argument when an array argument lives on another device; see
///         the inferred-queue form for the others.
template <class Kernel, class Space, class... Args>
requires detail::index_space_type<Space>
void call_kernel(const queue& q, const Kernel& kernel, const Space& space, const Args&... args) {
  detail::check_explicit_queue(q, kernel, args...);
  detail::launch_sync(q.impl(), kernel, space, args...);
}

/// Submits `kernel` over `space` after `dependent_events`, on the queue inferred from the
/// array arguments, and returns at once with `{host_event, device_event}`.
///
/// The device event completes when the kernel has finished; the host event after it, once
/// every `ndl::array` argument has been released. Until then the arrays stay allocated even
/// if the caller drops every reference to them and to both events. Commands that depend on
/// this launch (and later commands of an in-order queue) wait for its device event only, so
/// host events of different launches may complete in either order: wait on each host event
/// whose release you rely on, or on the queue.
///
/// @code
/// auto [host, dev] = ndl::call_kernel_async(add, ndl::range{n}, {}, a, b, c);
/// auto [host2, dev2] = ndl::call_kernel_async(add, ndl::range{n}, {dev}, a, c, b);
/// dev2.wait();
/// @endcode
///
/// @throws ndl::error as call_kernel for the checks made before submission; errors raised
///         while the kernel runs are rethrown by the events' `wait()`.
template <class Kernel, class Space, class... Args>
requires(!std::is_same_v<std::remove_cvref_t<Kernel>, queue> &&
         detail::index_space_type<Space>) launch_events
    call_kernel_async(const Kernel& kernel, const Space& space, event_list dependent_events,
                      const Args&... args) {
  return detail::launch_async(detail::queue_of_args(kernel, args...), kernel, space,
                              dependent_events, args...);
}

/// Submits `kernel` over `space` on the explicit queue `q` after `dependent_events`.
/// @throws ndl::error as the inferred-queue form.
template <class Kernel, class Space, class... Args>
requires detail::index_space_type<Space> launch_events
call_kernel_async(const queue& q, const Kernel& kernel, const Space& space,
                  event_list dependent_events, const Args&... args) {
  detail::check_explicit_queue(q, kernel, args...);
  return detail::launch_async(q.impl(), kernel, space, dependent_events, args...);
}

}  // namespace ndl
