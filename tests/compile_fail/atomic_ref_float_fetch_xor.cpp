// EXPECT: atomic_ref<float, .*>::fetch_xor|fetch_xor.*constraints not satisfied
// Bitwise atomics exist for integers only, whatever the order, scope and address space.
#include <ndl/ndl.hpp>

void update(float& x) {
  ndl::atomic_ref<float, ndl::memory_order::seq_cst, ndl::memory_scope::work_group,
                  ndl::address_space::local_space>(x)
      .fetch_xor(1.0f);
}
