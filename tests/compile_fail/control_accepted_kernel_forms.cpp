// EXPECT: compiles
// The forms the launcher accepts: lambdas, functors, function pointers,
// const references to items and views, view<const T> for array<T>, every CTAD form. This
// control also proves the compile-fail command line works.
#include <ndl/ndl.hpp>

struct functor {
  void operator()(ndl::nd_item<2>, ndl::view<float, 2>) const {}
};

void kernel_function(ndl::item<1> it, ndl::view<int, 1> v) {
  v[it.get_id(0)] = 1;
}

void launch(const ndl::array<int>& a, const ndl::array<float, 2>& m) {
  ndl::call_kernel(
      [](const ndl::item<1>& it, const ndl::view<const int, 1>& v) { (void)v[it.get_id(0)]; },
      ndl::range{16}, a);
  ndl::call_kernel(functor{}, ndl::nd_range{{16, 16}, {4, 4}}, m);
  ndl::call_kernel(&kernel_function, ndl::range{16}, a);
  auto [host, dev] = ndl::call_kernel_async(ndl::queue{}, &kernel_function, ndl::range{16}, {}, a);
  ndl::wait({host, dev});
  ndl::nd_range nd{{100}, {20}};
  ndl::range r{10, 20};
  (void)nd;
  (void)r;
}
