// EXPECT: not invocable
// An nd_range launch hands the kernel an nd_item; a kernel taking item is rejected.
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel([](ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 1; },
                   ndl::nd_range{{16}, {4}}, a);
}
