// Built in the other checked mode than the library (tests/CMakeLists.txt): must fail to link,
// naming the mode it expected, because a checked ndl::view is larger than an unchecked one.
#include <ndl/ndl.hpp>

int main() {
  auto a = ndl::array<float>::zeros({8});
  ndl::call_kernel([](ndl::item<1> it, ndl::view<float, 1> v) { v[it.get_id(0)] = 1.0f; },
                   ndl::range{8}, a);
  return a.to_host()[3] == 1.0f ? 0 : 1;
}
