// Compiled by the host compiler even in CUDA builds: its kernels have no CUDA entry point.
#include <ndl/ndl.hpp>

namespace ndl_test {

struct host_only_fill {
  void operator()(ndl::item<1> it, ndl::view<int, 1> v) const {
    v[it.get_id(0)] = static_cast<int>(it.get_id(0));
  }
};

void launch_from_host_compiled_file(const ndl::queue& q, ndl::array<int, 1>& a) {
  ndl::call_kernel(q, host_only_fill{}, a.shape(), a);
}

}  // namespace ndl_test
