// EXPECT: not invocable
// The signature check sees through ndl::named.
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel(ndl::named("wrong", [](ndl::nd_item<1>, ndl::view<int, 1>) {}), ndl::range{16},
                   a);
}
