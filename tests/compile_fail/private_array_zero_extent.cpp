// EXPECT: ndl::private_array extents must be positive
// A private array has no empty dimension.
#include <ndl/ndl.hpp>

float first() {
  ndl::private_array<float, 4, 0> p;
  return p[0];
}
