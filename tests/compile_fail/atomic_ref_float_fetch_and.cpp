// EXPECT: atomic_ref<float>::fetch_and|fetch_and.*constraints not satisfied
// Bitwise atomics exist for integers only: fetch_and on a float reference does not compile
// (numba-dpex raises a TypingError for and/or/xor on floating point types).
#include <ndl/ndl.hpp>

void launch(const ndl::array<float>& a) {
  ndl::call_kernel(
      [](ndl::item<1> it, ndl::view<float, 1> v) {
        ndl::atomic_ref<float>(v[0]).fetch_and(v[it.get_id(0)]);
      },
      ndl::range{16}, a);
}
