// EXPECT: trivially copyable
// Arguments are copied into the kernel: a std::vector cannot be one.
#include <ndl/ndl.hpp>
#include <vector>

void launch(const std::vector<int>& host) {
  ndl::call_kernel([](ndl::item<1>, const std::vector<int>&) {}, ndl::range{16}, host);
}
