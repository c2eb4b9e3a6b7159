// EXPECT: ndl::atomic_ref supports int32, uint32, int64, uint64, float and double
// A 16-bit integer is not one of the atomic types: a readable static_assert, not a wall of
// builtin errors.
#include <ndl/ndl.hpp>

void update(short& x) {
  ndl::atomic_ref<short>(x).fetch_add(1);
}
