// EXPECT: ndl::atomic_ref refers to global or local memory
// Constant memory cannot be updated atomically.
#include <ndl/ndl.hpp>

int read(int& x) {
  return ndl::atomic_ref<int, ndl::memory_order::relaxed, ndl::memory_scope::device,
                         ndl::address_space::constant_space>(x)
      .load();
}
