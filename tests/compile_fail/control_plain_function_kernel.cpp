// EXPECT: compiles
// A plain function is a callable like any other: `call_kernel(f, ...)` must work as well as
// `call_kernel(&f, ...)` (numba-dpex kernels are plain functions).
#include <ndl/ndl.hpp>

void kernel_function(ndl::item<1> it, ndl::view<int, 1> v) {
  v[it.get_id(0)] = 1;
}

void launch(const ndl::array<int>& a) {
  ndl::call_kernel(kernel_function, ndl::range{16}, a);
  ndl::call_kernel_async(kernel_function, ndl::range{16}, {}, a).host_event.wait();
}
