// EXPECT: 1, 2 or 3 dimensions
// Index spaces have 1, 2 or 3 dimensions.
#include <ndl/ndl.hpp>

ndl::range<4> r;
