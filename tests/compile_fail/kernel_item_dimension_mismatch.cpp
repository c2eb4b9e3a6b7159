// EXPECT: not invocable
// A kernel taking item<2> launched over a range<1>: rejected at compile time with the
// launcher's readable static_assert, not a wall of template errors.
#include <ndl/ndl.hpp>

void launch(const ndl::array<int>& a) {
  ndl::call_kernel([](ndl::item<2> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 1; },
                   ndl::range{16}, a);
}
