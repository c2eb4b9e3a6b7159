// EXPECT: compiles
// Every accepted form of the work-group API: barriers with each scope, local accessors of
// 1-3 dimensions, private arrays, every atomic operation on every atomic type with every
// order, scope and address space, fences. Pins what the compile-fail cases around it reject.
#include <cstdint>
#include <ndl/ndl.hpp>
#include <type_traits>

template <class T, ndl::memory_order Order, ndl::memory_scope Scope, ndl::address_space Space>
T every_operation(T& x) {
  const ndl::atomic_ref<T, Order, Scope, Space> r(x);
  T e = r.load();
  r.store(e);
  (void)r.exchange(e);
  (void)r.compare_exchange(e, T{1});
  T s = r.fetch_add(T{1}) + r.fetch_sub(T{1}) + r.fetch_min(T{1}) + r.fetch_max(T{1});
  if constexpr (std::is_integral_v<T>)
    s = s + r.fetch_and(T{1}) + r.fetch_or(T{1}) + r.fetch_xor(T{1});
  return s;
}

template <class T, ndl::memory_order Order>
void every_space(T& x) {
  using ndl::address_space;
  using ndl::memory_scope;
  every_operation<T, Order, memory_scope::work_item, address_space::global_space>(x);
  every_operation<T, Order, memory_scope::sub_group, address_space::local_space>(x);
  every_operation<T, Order, memory_scope::work_group, address_space::local_space>(x);
  every_operation<T, Order, memory_scope::device, address_space::global_space>(x);
  every_operation<T, Order, memory_scope::system, address_space::generic_space>(x);
}

template <class T>
void every_order(T& x) {
  every_space<T, ndl::memory_order::relaxed>(x);
  every_space<T, ndl::memory_order::acquire>(x);
  every_space<T, ndl::memory_order::release>(x);
  every_space<T, ndl::memory_order::acq_rel>(x);
  every_space<T, ndl::memory_order::seq_cst>(x);
}

void every_type(std::int32_t& a, std::uint32_t& b, std::int64_t& c, std::uint64_t& d, long long& e,
                unsigned long long& f, float& g, double& h) {
  every_order(a);
  every_order(b);
  every_order(c);
  every_order(d);
  every_order(e);
  every_order(f);
  every_order(g);
  every_order(h);
}

void launch(const ndl::array<float>& a) {
  ndl::call_kernel(
      [](ndl::nd_item<3> it, ndl::view<float, 1> v, ndl::local_accessor<float, 1> l1,
         ndl::local_accessor<double, 2> l2, ndl::local_accessor<int, 3> l3) {
        const auto g = it.get_group();
        l1[it.get_local_linear_id()] = 1.0f;
        l1(0) = 2.0f;
        l2(0, 1) = 3.0;
        l3(0, 1, 2) = 4;
        ndl::group_barrier(g);
        ndl::group_barrier(g, ndl::memory_scope::work_group);
        ndl::group_barrier(g, ndl::memory_scope::device);
        ndl::private_array<float, 10> p1;
        ndl::private_array<float, 5, 2> p2{ndl::zero_fill};
        ndl::private_array<int, 2, 3, 4> p3{ndl::zero_fill};
        p1[0] = p2(4, 1) + static_cast<float>(p3(1, 2, 3));
        ndl::atomic_fence(ndl::memory_order::release, ndl::memory_scope::device);
        ndl::atomic_fence(ndl::memory_order::acquire, ndl::memory_scope::work_group);
        ndl::atomic_fence(ndl::memory_order::seq_cst, ndl::memory_scope::system);
        ndl::atomic_ref<float>(v[0]).fetch_add(p1[0] + l1[0] + static_cast<float>(l2(0, 1)));
      },
      ndl::nd_range{{4, 4, 4}, {2, 2, 2}}, a, ndl::local_accessor<float, 1>{{8}},
      ndl::local_accessor<double, 2>{{2, 4}}, ndl::local_accessor<int, 3>{{1, 2, 4}});
}
