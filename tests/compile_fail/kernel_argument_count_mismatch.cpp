// EXPECT: not invocable
// One argument too many.
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel(
      ndl::queue{}, [](ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 1; },
      ndl::range{16}, a, 5);
}
