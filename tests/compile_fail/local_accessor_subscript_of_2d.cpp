// EXPECT: operator\[\].*local_accessor<int, 2>|local_accessor<int, 2>.*subscript
// operator[] is the 1-D form only; a 2-D local accessor is indexed as tile(i, j).
#include <ndl/ndl.hpp>

void store(ndl::local_accessor<int, 2> tile) {
  tile[3] = 0;
}
