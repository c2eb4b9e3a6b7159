// EXPECT: no match(ing function)? for call to .*local_accessor<int, 2>
// A 2-D local accessor takes two indices.
#include <ndl/ndl.hpp>

void launch() {
  ndl::call_kernel(
      [](ndl::nd_item<1> it, ndl::local_accessor<int, 2> tile) { tile(it.get_local_id(0)) = 0; },
      ndl::nd_range{{16}, {16}}, ndl::local_accessor<int, 2>{{16, 2}});
}
