// Kernels compiled at run time: the runtime's side (include/ndl/detail/rt_kernel.hpp). The
// backends compile and load the images; this checks what they load against what the launcher
// asked for.
#include <string>

#include "core/runtime.hpp"
#include "ndl/detail/rt_kernel.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

namespace {
device_impl& impl_of(const device& dev) {
  return const_cast<device_impl&>(*dev.impl());
}

std::string describe(const rt_signature& s) {
  std::string out = s.is_nd ? "nd_range<" : "range<";
  out += std::to_string(s.dims) + ">(";
  for (int i = 0; i < s.nargs; ++i)
    out += (i ? ", " : "") + std::to_string(s.arg_codes[i]);
  return out + ")";
}
}  // namespace

std::string compile_rt_module(const device& dev, const std::string& source,
                              const std::vector<std::string>& options) {
  auto& d = impl_of(dev);
  return d.owner->compile_module(d.ordinal, source, options);
}

std::string rt_compiler_id(const device& dev) {
  auto& d = impl_of(dev);
  return d.owner->compiler_id(d.ordinal);
}

const rt_kernel* load_rt_module(const device& dev, const std::string& image,
                                const rt_signature& signature) {
  if (image.empty())
    throw_error(errc::invalid_argument, "load_rt_module: the kernel image is empty");
  auto& d = impl_of(dev);
  const rt_kernel* k = d.owner->load_module(d.ordinal, image, signature);
  if (k->abi != rt_abi_version)
    throw_error(errc::invalid_argument,
                "kernel '" + std::string(signature.name ? signature.name : "") +
                    "' was built for ndlaunch kernel ABI " + std::to_string(k->abi) +
                    ", this library has " + std::to_string(rt_abi_version) + ": rebuild it");
  if (k->checked != NDL_CHECKED)
    throw_error(errc::invalid_argument,
                std::string("kernel '") + (signature.name ? signature.name : "") + "' was built " +
                    (k->checked ? "with" : "without") + " NDL_CHECKED and this library " +
                    (NDL_CHECKED ? "with" : "without") + " it: rebuild it in the library's mode");
  bool same =
      k->dims == signature.dims && k->is_nd == signature.is_nd && k->nargs == signature.nargs;
  for (int i = 0; same && i < k->nargs; ++i)
    same = k->arg_codes[i] == signature.arg_codes[i];
  if (!same)
    throw_error(errc::invalid_argument, "the loaded kernel '" +
                                            std::string(k->name ? k->name : "") +
                                            "' is not the one asked for: " + describe(signature));
  return k;
}

void synchronize_device(const device& dev) {
  auto& d = impl_of(dev);
  d.owner->synchronize_device(d.ordinal);
}

void drain_in_flight() {
  auto& rt = runtime::get();
  const runtime::waiting_scope waiting(rt.waiting_all);
  rt.flush_all();
  rt.waiter().wait_until([&] { return rt.in_flight.load(std::memory_order_acquire) == 0; });
}

}  // namespace ndl::detail
