// EXPECT: no match(ing function)? for call to .*local_accessor<float, 1>
// A 1-D local accessor takes one index.
#include <ndl/ndl.hpp>

void store(ndl::local_accessor<float, 1> tile) {
  tile(1, 2) = 0.0f;
}
