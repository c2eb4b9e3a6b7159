// EXPECT: not invocable
// An array of int arrives as view<int, 1>; a kernel expecting view<float, 1> is rejected
// (also for the asynchronous launcher).
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel_async([](ndl::item<1> it, ndl::view<float, 1> v) { v[it.get_id(0)] = 1; },
                         ndl::range{16}, {}, a);
}
