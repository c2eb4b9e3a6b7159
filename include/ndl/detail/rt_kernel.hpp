/// @file rt_kernel.hpp
/// Kernels compiled apart from the code that launches them: at run time (the Python package
/// compiles kernel source with the host compiler for CPU devices and with NVRTC for CUDA
/// devices) or ahead of time in a C++ extension that exports them to Python.
///
/// Such a kernel receives its arguments type-erased, as `rt_arg`s, and says which argument
/// types it was compiled for (`rt_code`s). The launcher (the Python package) turns each
/// Python argument into an `rt_arg`, looks up the specialisation for their codes and hands
/// the runtime an ordinary launch record: the same submission path as C++ launches.
///
/// The first part of this header compiles under NVRTC as well (the device side of run-time
/// CUDA kernels); the second part is host C++.
#pragma once

#include "ndl/config.hpp"
#include "ndl/kernel/local_accessor.hpp"
#include "ndl/memory/view.hpp"

namespace ndl::detail {

/// Version of the layout of rt_arg and rt_kernel; a kernel built against another one is
/// refused when it is loaded.
inline constexpr unsigned rt_abi_version = 1;

/// Element types of arrays, local memory and scalars.
enum class rt_dtype : unsigned char {
  b8 = 1,  ///< bool
  i8,
  i16,
  i32,
  i64,
  u8,
  u16,
  u32,
  u64,
  f32,
  f64,
};

/// What an argument is.
enum class rt_kind : unsigned char {
  array = 1,   ///< a strided array: arrives as `ndl::view<T, ndim>`
  scalar = 2,  ///< a value: arrives as `T`
  local = 3,   ///< work-group local memory: arrives as `ndl::local_accessor<T, ndim>`
};

/// One number naming an argument's type: kind, element type and rank.
NDL_KERNEL_FN constexpr unsigned short rt_code(rt_kind kind, rt_dtype dtype, int ndim) {
  return static_cast<unsigned short>((static_cast<unsigned>(kind) << 8) |
                                     (static_cast<unsigned>(dtype) << 2) |
                                     static_cast<unsigned>(ndim));
}

/// One type-erased kernel argument. CUDA kernels compiled at run time take an array of them
/// as a kernel parameter, so the layout is fixed (72 bytes).
struct rt_arg {
  unsigned short code = 0;  ///< rt_code of the argument
  unsigned short reserved0 = 0;
  unsigned reserved1 = 0;
  void* data = nullptr;       ///< array: its first element
  long long shape[3] = {};    ///< array, local memory: the extents
  long long strides[3] = {};  ///< array: the strides, in elements
  /// scalar: the value's bytes (zero-extended); local memory: its byte offset in the
  /// work-group's block (placed by the launcher).
  unsigned long long bits = 0;
};

/// The arguments of a run-time CUDA kernel, as its parameter (at least one slot).
template <int N>
struct rt_arg_pack {
  rt_arg a[N > 0 ? N : 1];
};

/// The element type code of `T`.
template <class T>
struct rt_dtype_of;
#define NDL_RT_DTYPE(type, code)                      \
  template <>                                         \
  struct rt_dtype_of<type> {                          \
    static constexpr rt_dtype value = rt_dtype::code; \
  }
NDL_RT_DTYPE(bool, b8);
NDL_RT_DTYPE(signed char, i8);
NDL_RT_DTYPE(char, i8);
NDL_RT_DTYPE(short, i16);
NDL_RT_DTYPE(int, i32);
NDL_RT_DTYPE(long, i64);
NDL_RT_DTYPE(long long, i64);
NDL_RT_DTYPE(unsigned char, u8);
NDL_RT_DTYPE(unsigned short, u16);
NDL_RT_DTYPE(unsigned, u32);
NDL_RT_DTYPE(unsigned long, u64);
NDL_RT_DTYPE(unsigned long long, u64);
NDL_RT_DTYPE(float, f32);
NDL_RT_DTYPE(double, f64);
#undef NDL_RT_DTYPE
template <class T>
struct rt_dtype_of<const T> : rt_dtype_of<T> {};

/// How a kernel parameter type is made from an rt_arg, and its code.
template <class T>
struct rt_param {
  static constexpr unsigned short code = rt_code(rt_kind::scalar, rt_dtype_of<T>::value, 0);
  NDL_KERNEL_FN static T from(const rt_arg& a) {
    T v;
    const auto* src = reinterpret_cast<const unsigned char*>(&a.bits);
    auto* dst = reinterpret_cast<unsigned char*>(&v);
    for (size_t i = 0; i < sizeof(T); ++i)
      dst[i] = src[i];
    return v;
  }
};
template <class T, int Dim>
struct rt_param<view<T, Dim>> {
  static constexpr unsigned short code = rt_code(rt_kind::array, rt_dtype_of<T>::value, Dim);
  NDL_KERNEL_FN static view<T, Dim> from(const rt_arg& a) {
    size_t shape[Dim];
    ptrdiff_t strides[Dim];
    for (int d = 0; d < Dim; ++d) {
      shape[d] = static_cast<size_t>(a.shape[d]);
      strides[d] = static_cast<ptrdiff_t>(a.strides[d]);
    }
    return view<T, Dim>(static_cast<T*>(a.data), shape, strides);
  }
};
template <class T, int Dim>
struct rt_param<local_accessor<T, Dim>> {
  static constexpr unsigned short code = rt_code(rt_kind::local, rt_dtype_of<T>::value, Dim);
  NDL_KERNEL_FN static local_accessor<T, Dim> from(const rt_arg& a) {
    size_t shape[Dim];
    for (int d = 0; d < Dim; ++d)
      shape[d] = static_cast<size_t>(a.shape[d]);
    return local_binding::placed<T, Dim>(shape, static_cast<size_t>(a.bits));
  }
};

/// The number of kernel arguments of a specialisation.
template <class... KArgs>
NDL_KERNEL_FN constexpr int rt_count() {
  return static_cast<int>(sizeof...(KArgs));
}

/// The index space of a specialisation: dimensions and whether it is an nd_range.
template <class Space>
struct rt_space;
template <int Dim>
struct rt_space<range<Dim>> {
  static constexpr int dims = Dim;
  static constexpr bool is_nd = false;
};

}  // namespace ndl::detail

#if defined(__CUDACC_RTC__)
// ---- Device side of kernels compiled at run time by NVRTC ----------------------------------
#include <cuda/std/tuple>
#include <cuda/std/utility>

#include "ndl/detail/cuda_kernels.hpp"

namespace ndl {
template <int Dim>
class nd_range;  // only a name here: nd_range.hpp is host C++
}  // namespace ndl

namespace ndl::detail {
template <int Dim>
struct rt_space<nd_range<Dim>> {
  static constexpr int dims = Dim;
  static constexpr bool is_nd = true;
};

/// The payload of a run-time CUDA kernel, built by each thread from the rt_args.
template <class Kernel, class... KArgs>
struct rt_device_payload {
  Kernel kernel;
  cuda::std::tuple<KArgs...> args;
  static constexpr bool has_local = (is_local_accessor_v<KArgs> || ...);

  template <size_t... I>
  __device__ rt_device_payload(const rt_arg* a, cuda::std::index_sequence<I...>)
      : kernel{}, args(rt_param<KArgs>::from(a[I])...) {}

  template <class Item>
  __device__ NDL_ALWAYS_INLINE void invoke_device(const Item& it) const {
    cuda::std::apply([&](const KArgs&... a) { kernel(it, a...); }, args);
  }
  __device__ void bind_local(void* block) {
    cuda::std::apply(
        [&](KArgs&... a) {
          (
              [&](auto& x) {
                if constexpr (is_local_accessor_v<cuda::std::remove_cvref_t<decltype(x)>>)
                  local_binding::bind(x, block);
              }(a),
              ...);
        },
        args);
  }
};

template <class Space>
struct rt_device_space;
template <int Dim>
struct rt_device_space<range<Dim>> {
  using type = cuda_range_space<Dim>;
};
template <int Dim>
struct rt_device_space<nd_range<Dim>> {
  using type = cuda_nd_space<Dim>;
};

/// What a run-time CUDA kernel was compiled for, readable from its image (the symbol
/// `ndl_rt_signature`): ABI version, checked mode, index space (dims | 16 for an nd_range),
/// the number of arguments, then their codes. The loader compares it with what the launcher
/// asks for, so that a wrong image is refused instead of run.
template <int N>
struct rt_signature_table {
  unsigned short v[4 + N];
};
template <class Space, class... KArgs>
constexpr rt_signature_table<static_cast<int>(sizeof...(KArgs))> rt_make_signature() {
  return {{static_cast<unsigned short>(rt_abi_version), static_cast<unsigned short>(NDL_CHECKED),
           static_cast<unsigned short>(rt_space<Space>::dims | (rt_space<Space>::is_nd ? 16 : 0)),
           static_cast<unsigned short>(sizeof...(KArgs)), rt_param<KArgs>::code...}};
}

/// Runs a run-time kernel's launch on the device.
template <class Kernel, class Space, class... KArgs>
__device__ NDL_ALWAYS_INLINE void rt_device_run(const rt_arg* args,
                                                const typename rt_device_space<Space>::type& s) {
  rt_device_payload<Kernel, KArgs...> p(args, cuda::std::index_sequence_for<KArgs...>{});
  if constexpr (rt_space<Space>::is_nd)
    cuda_nd_body<decltype(p), rt_space<Space>::dims>(p, s);
  else
    cuda_range_body<decltype(p), rt_space<Space>::dims>(p, s);
}
}  // namespace ndl::detail

/// Defines the entry point of a kernel compiled at run time: `fn` (a function or function
/// template of the source) specialised for the index space and kernel argument types.
#define NDL_RT_KERNEL(fn, Space, ...)                                                             \
  struct ndl_rt_kernel_fn {                                                                       \
    template <class Item, class... A>                                                             \
    __device__ NDL_ALWAYS_INLINE void operator()(const Item& it, const A&... a) const {           \
      fn(it, a...);                                                                               \
    }                                                                                             \
  };                                                                                              \
  extern "C" __device__ ::ndl::detail::rt_signature_table<::ndl::detail::rt_count<__VA_ARGS__>()> \
      ndl_rt_signature = ::ndl::detail::rt_make_signature<Space __VA_OPT__(, ) __VA_ARGS__>();    \
  extern "C" __global__ void ndl_rt_entry(                                                        \
      const ::ndl::detail::rt_arg_pack<::ndl::detail::rt_count<__VA_ARGS__>()> args,              \
      const typename ::ndl::detail::rt_device_space<Space>::type s) {                             \
    ::ndl::detail::rt_device_run<ndl_rt_kernel_fn, Space __VA_OPT__(, ) __VA_ARGS__>(args.a, s);  \
  }

#else
// ---- Host side ------------------------------------------------------------------------------
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

#include "ndl/launch.hpp"

namespace ndl::detail {
template <int Dim>
struct rt_space<nd_range<Dim>> {
  static constexpr int dims = Dim;
  static constexpr bool is_nd = true;
};

/// One specialisation of a kernel compiled apart from its launcher: the argument types it was
/// compiled for and how to launch it.
struct rt_kernel {
  unsigned abi = rt_abi_version;              ///< rt_abi_version of the code that made it
  int checked = NDL_CHECKED;                  ///< NDL_CHECKED of the code that made it
  const char* name = nullptr;                 ///< the kernel's name, for messages
  int dims = 1;                               ///< dimensions of the index space
  bool is_nd = false;                         ///< nd_range (true) or range (false)
  int nargs = 0;                              ///< number of kernel arguments after the item
  const unsigned short* arg_codes = nullptr;  ///< rt_code of each argument
  size_t payload_size = 0;                    ///< bytes of the payload build() makes
  size_t payload_align = 1;                   ///< its alignment
  /// Makes the payload of a launch from its arguments in `storage`.
  void (*build)(const rt_kernel& self, const rt_arg* args, void* storage) = nullptr;
  /// Destroys a payload made by build().
  void (*destroy)(void* storage) = nullptr;
  cpu_entry_fn cpu_entry = nullptr;    ///< runs it on CPU devices (null: not compiled for them)
  cuda_entry_fn cuda_entry = nullptr;  ///< runs it on CUDA devices (null: not compiled for them)
  const std::type_info* kernel_type = nullptr;  ///< the kernel's type, for messages
  const void* context = nullptr;                ///< the kernel object, or the loaded CUDA kernel
};

/// The payload of a host-compiled specialisation.
template <class Kernel, class... KArgs>
struct rt_host {
  using payload_t = payload<Kernel, KArgs...>;

  template <size_t... I>
  static void build_at(std::index_sequence<I...>, const rt_kernel& self, const rt_arg* args,
                       void* storage) {
    new (storage) payload_t{*static_cast<const Kernel*>(self.context),
                            std::tuple<KArgs...>(rt_param<KArgs>::from(args[I])...)};
  }
  static void build(const rt_kernel& self, const rt_arg* args, void* storage) {
    build_at(std::index_sequence_for<KArgs...>{}, self, args, storage);
  }
  static void destroy(void* storage) { static_cast<payload_t*>(storage)->~payload_t(); }
};

/// Describes `kernel` compiled here (by the host compiler, or by nvcc: then it runs on CUDA
/// devices too) for `Space` and the kernel argument types `KArgs`. The kernel object is
/// copied into a static of this specialisation, which lives as long as the program.
template <class Kernel, class Space, class... KArgs>
const rt_kernel* rt_specialize(const Kernel& kernel, const char* name) {
  using host = rt_host<Kernel, KArgs...>;
  using item_type = typename space_traits<Space>::item_type;
  static_assert(kernel_signature_ok<Kernel, item_type, KArgs...>());
  static const Kernel object = kernel;
  static constexpr unsigned short codes[sizeof...(KArgs) + 1] = {rt_param<KArgs>::code..., 0};
  static const rt_kernel k = [&] {
    rt_kernel r;
    r.name = name;
    r.dims = space_traits<Space>::dims;
    r.is_nd = space_traits<Space>::item_type_is_nd;
    r.nargs = static_cast<int>(sizeof...(KArgs));
    r.arg_codes = codes;
    r.payload_size = sizeof(typename host::payload_t);
    r.payload_align = alignof(typename host::payload_t);
    r.build = &host::build;
    r.destroy = &host::destroy;
    r.kernel_type = &typeid(Kernel);
    r.context = &object;
    using P = typename host::payload_t;
    constexpr int D = space_traits<Space>::dims;
    if constexpr (space_traits<Space>::item_type_is_nd) {
      r.cpu_entry = &cpu_nd_entry<P, D>;
#if defined(__CUDACC__)
      r.cuda_entry = &cuda_nd_entry<P, D>;
#endif
    } else {
      r.cpu_entry = &cpu_range_entry<P, D>;
#if defined(__CUDACC__)
      r.cuda_entry = &cuda_range_entry<P, D>;
#endif
    }
    return r;
  }();
  return &k;
}

/// The entry point of a run-time compiled CPU module (see NDL_RT_KERNEL).
using rt_module_entry_fn = const rt_kernel* (*)();

/// What a run-time compiled kernel was compiled for (the launcher generated its source).
struct rt_signature {
  const char* name = nullptr;  ///< the kernel's name, for messages
  int dims = 1;
  bool is_nd = false;
  int nargs = 0;
  const unsigned short* arg_codes = nullptr;  ///< rt_code of each argument
};

/// Compiles kernel source for the backend of `dev`: the host C++ compiler makes a shared
/// library for CPU devices (`NDL_CXX` or `CXX` names it; default `c++`), NVRTC a cubin for
/// the architecture of a CUDA device. The source is C++ against the kernel API and ends in
/// one `NDL_RT_KERNEL(function, space, argument types...)` line. `options` are added to the
/// compiler's (include directories, definitions; for CPU devices also libraries).
/// @returns the image load_rt_module() takes.
/// @throws ndl::error (errc::compile_failure) with the compiler's log.
NDL_API std::string compile_rt_module(const device& dev, const std::string& source,
                                      const std::vector<std::string>& options);

/// Names the compiler, target and flags compile_rt_module() uses for `dev` (for cache keys).
NDL_API std::string rt_compiler_id(const device& dev);

/// Loads an image made by compile_rt_module() for `dev`. The kernel stays loaded until the
/// process ends.
/// @throws ndl::error (errc::invalid_argument) when the image is not a kernel of `signature`
///         or was built for another ndlaunch ABI or checked mode.
NDL_API const rt_kernel* load_rt_module(const device& dev, const std::string& image,
                                        const rt_signature& signature);

/// Blocks until `dev` has finished all its work, also what other libraries enqueued on it
/// (their CUDA streams): before ndlaunch uses memory another framework may still be writing.
NDL_API void synchronize_device(const device& dev);

/// Blocks until every command submitted in the process has finished, without raising their
/// errors (they stay with their events). Language bindings call it before their interpreter
/// shuts down, so that no launch releases an argument into a finalised interpreter.
NDL_API void drain_in_flight();

}  // namespace ndl::detail

/// Defines the entry point of a kernel compiled at run time for CPU devices: `fn` (a function
/// or function template of the source) specialised for the index space and kernel argument
/// types. The module exports `ndl_rt_kernel()`, returning its rt_kernel.
#define NDL_RT_KERNEL(fn, Space, ...)                                                        \
  namespace {                                                                                \
  struct ndl_rt_kernel_fn {                                                                  \
    template <class Item, class... A>                                                        \
    NDL_ALWAYS_INLINE void operator()(const Item& it, const A&... a) const {                 \
      fn(it, a...);                                                                          \
    }                                                                                        \
  };                                                                                         \
  }                                                                                          \
  extern "C" __attribute__((visibility("default"))) const ::ndl::detail::rt_kernel*          \
  ndl_rt_kernel() {                                                                          \
    return ::ndl::detail::rt_specialize<ndl_rt_kernel_fn, Space __VA_OPT__(, ) __VA_ARGS__>( \
        ndl_rt_kernel_fn{}, #fn);                                                            \
  }
#endif
