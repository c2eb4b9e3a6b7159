// EXPECT: atomic_ref<double>::fetch_or|fetch_or.*constraints not satisfied
// Bitwise atomics exist for integers only: fetch_or on a double reference does not compile.
#include <ndl/ndl.hpp>

void update(double& x) {
  ndl::atomic_ref<double>(x).fetch_or(1.0);
}
