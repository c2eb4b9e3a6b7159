// EXPECT: must return void
// Kernels return void.
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel([](ndl::item<1> it, ndl::view<int, 1> v) { return v[it.get_id(0)]; },
                   ndl::range{16}, a);
}
