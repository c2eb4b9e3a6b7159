// Kernels compiled apart from their launcher (include/ndl/detail/rt_kernel.hpp), on every
// device: specialisations made here (the path of kernels a C++ extension exports to Python),
// and kernels compiled at run time from source (the host compiler for the CPU, NVRTC for
// CUDA), launched through the ordinary submission path with type-erased arguments; then the
// errors: source that does not compile, images that are not kernels, mismatched signatures.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ndl/detail/rt_kernel.hpp>
#include <ndl/ndl.hpp>
#include <string>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl::detail::rt_arg;
using ndl::detail::rt_kernel;
using ndl::detail::rt_param;

class rt_kernel_test : public ndl_test::device_test {};

struct saxpy {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<float, 1> x, ndl::view<float, 1> y,
                                float a) const {
    y[it.get_id(0)] += a * x[it.get_id(0)];
  }
};

// Each group writes its items in reverse order, through local memory.
struct reverse_groups {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> v,
                                ndl::local_accessor<int, 1> tile) const {
    const size_t l = it.get_local_id(0), n = it.get_local_range(0);
    tile[l] = v[it.get_global_id(0)];
    ndl::group_barrier(it.get_group());
    v[it.get_global_id(0)] = tile[n - 1 - l];
  }
};

template <class T>
rt_arg array_arg(const ndl::array<T, 1>& a) {
  rt_arg r;
  r.code = rt_param<ndl::view<T, 1>>::code;
  const auto v = a.get_view();
  r.data = v.data();
  r.shape[0] = static_cast<long long>(v.extent(0));
  r.strides[0] = v.stride(0);
  return r;
}

template <class T>
rt_arg scalar_arg(T value) {
  rt_arg r;
  r.code = rt_param<T>::code;
  std::memcpy(&r.bits, &value, sizeof value);
  return r;
}

rt_arg local_arg(ndl::detail::rt_dtype t, long long n, unsigned long long offset) {
  rt_arg r;
  r.code = ndl::detail::rt_code(ndl::detail::rt_kind::local, t, 1);
  r.shape[0] = n;
  r.bits = offset;
  return r;
}

// Launches `k` as the Python package does: payload built from the rt_args, one record.
void launch(const ndl::queue& q, const rt_kernel* k, const ndl::detail::index_space& space,
            const std::vector<rt_arg>& args, size_t local_bytes = 0) {
  // (Not a std::vector<std::max_align_t>: nvcc 13.0 fails on it with an internal error.)
  alignas(64) unsigned char storage[4096];
  ASSERT_LE(k->payload_size, sizeof storage);
  ASSERT_LE(k->payload_align, size_t{64});
  k->build(*k, args.data(), storage);
  struct destroy {
    const rt_kernel* k;
    void* p;
    ~destroy() { k->destroy(p); }
  } guard{k, storage};
  ndl::detail::kernel_record rec;
  rec.kernel_type = k->kernel_type ? k->kernel_type : &typeid(rt_kernel);
  rec.name = k->name;
  rec.space = space;
  rec.payload = storage;
  rec.local_bytes = local_bytes;
  rec.cpu_entry = k->cpu_entry;
  rec.cuda_entry = k->cuda_entry;
  ndl::detail::submit_sync(q.impl(), rec);
}

template <int D>
ndl::detail::index_space space_of(const ndl::range<D>& r) {
  return ndl::detail::space_traits<ndl::range<D>>::erase(r);
}
template <int D>
ndl::detail::index_space space_of(const ndl::nd_range<D>& r) {
  return ndl::detail::space_traits<ndl::nd_range<D>>::erase(r);
}

NDL_TEST_P(rt_kernel_test, a_specialisation_made_here_runs_from_type_erased_arguments) {
  const rt_kernel* k = ndl::detail::rt_specialize<saxpy, ndl::range<1>, ndl::view<float, 1>,
                                                  ndl::view<float, 1>, float>(saxpy{}, "saxpy");
  EXPECT_EQ(k->abi, ndl::detail::rt_abi_version);
  EXPECT_EQ(k->nargs, 3);
  EXPECT_FALSE(k->is_nd);
  EXPECT_STREQ(k->name, "saxpy");
  auto q = default_queue();
  const size_t n = 1000;
  auto x = ndl::array<float>::full({n}, 2.0f, q);
  auto y = ndl::array<float>::full({n}, 1.0f, q);
  launch(q, k, space_of(ndl::range<1>{n}), {array_arg(x), array_arg(y), scalar_arg(3.0f)});
  for (float v : y.to_host())
    ASSERT_EQ(v, 7.0f);
}

NDL_TEST_P(rt_kernel_test, nd_range_specialisations_get_local_memory_and_barriers) {
  const rt_kernel* k =
      ndl::detail::rt_specialize<reverse_groups, ndl::nd_range<1>, ndl::view<int, 1>,
                                 ndl::local_accessor<int, 1>>(reverse_groups{}, "reverse_groups");
  auto q = default_queue();
  const size_t n = 256, group = 32;
  std::vector<int> host(n);
  for (size_t i = 0; i < n; ++i)
    host[i] = static_cast<int>(i);
  auto v = ndl::array<int>::from_host(host, q);
  launch(q, k, space_of(ndl::nd_range<1>{{n}, {group}}),
         {array_arg(v), local_arg(ndl::detail::rt_dtype::i32, group, 0)}, group * sizeof(int));
  const auto out = v.to_host();
  for (size_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], static_cast<int>(i / group * group + group - 1 - i % group)) << i;
}

const char* const kernel_source = R"(
#include <ndl/detail/rt_kernel.hpp>
#include <ndl/kernel/barrier.hpp>
template <class V, class T>
void scale2d(ndl::item<2> it, V v, T factor) {
  v(it.get_id(0), it.get_id(1)) *= factor;
}
NDL_RT_KERNEL(scale2d, ndl::range<2>, ndl::view<double, 2>, double)
)";

// The headers: NDL_TEST_INCLUDE_DIR in the environment (a build run elsewhere), else this
// source tree's.
std::vector<std::string> compile_options() {
  const char* env = std::getenv("NDL_TEST_INCLUDE_DIR");
  return {std::string("-I") + (env && *env ? env : NDL_TEST_INCLUDE_DIR)};
}

NDL_TEST_P(rt_kernel_test, kernels_compiled_at_run_time_run_on_their_device) {
  const std::string image = ndl::detail::compile_rt_module(dev(), kernel_source, compile_options());
  ASSERT_FALSE(image.empty());
  const unsigned short codes[] = {rt_param<ndl::view<double, 2>>::code, rt_param<double>::code};
  ndl::detail::rt_signature sig;
  sig.name = "scale2d";
  sig.dims = 2;
  sig.nargs = 2;
  sig.arg_codes = codes;
  const rt_kernel* k = ndl::detail::load_rt_module(dev(), image, sig);
  EXPECT_FALSE(ndl::detail::rt_compiler_id(dev()).empty());
  auto q = default_queue();
  auto a = ndl::array<double, 2>::full({30, 40}, 1.5, q);
  rt_arg arg;
  arg.code = codes[0];
  const auto view = a.get_view();
  arg.data = view.data();
  for (int d = 0; d < 2; ++d) {
    arg.shape[d] = static_cast<long long>(view.extent(d));
    arg.strides[d] = view.stride(d);
  }
  launch(q, k, space_of(ndl::range<2>{30, 40}), {arg, scalar_arg(4.0)});
  for (double v : a.to_host())
    ASSERT_EQ(v, 6.0);
  // The loaded kernel refuses a signature it was not compiled for.
  const unsigned short other[] = {rt_param<ndl::view<float, 2>>::code, rt_param<double>::code};
  sig.arg_codes = other;
  NDL_EXPECT_ERROR(ndl::detail::load_rt_module(dev(), image, sig), ndl::errc::invalid_argument,
                   "not the one asked for");
}

NDL_TEST_P(rt_kernel_test, source_that_does_not_compile_reports_the_compiler_log) {
  const std::string bad = std::string(kernel_source) + "\nthis is not C++;\n";
  NDL_EXPECT_ERROR(ndl::detail::compile_rt_module(dev(), bad, compile_options()),
                   ndl::errc::compile_failure, "this is not C++");
}

NDL_TEST_P(rt_kernel_test, images_that_are_not_kernels_are_refused) {
  ndl::detail::rt_signature sig;
  sig.name = "nothing";
  NDL_EXPECT_ERROR(ndl::detail::load_rt_module(dev(), "", sig), ndl::errc::invalid_argument,
                   "empty");
  EXPECT_THROW(ndl::detail::load_rt_module(dev(), "not an image at all", sig), ndl::error);
  // The runtime still works.
  auto a = ndl::array<int>::full({8}, 3, default_queue());
  EXPECT_EQ(a.to_host()[7], 3);
}

}  // namespace
