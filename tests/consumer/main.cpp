// Uses the installed package: one launch on the default device, result checked.
#include <cstdio>
#include <ndl/ndl.hpp>

int main() {
  constexpr ndl::size_t n = 1000;
  auto a = ndl::array<int>::zeros({n});
  ndl::call_kernel(
      [](ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = int(it.get_id(0)); },
      ndl::range{n}, a);
  const auto host = a.to_host();
  for (ndl::size_t i = 0; i < n; ++i)
    if (host[i] != static_cast<int>(i)) {
      std::printf("consumer: FAIL at %zu\n", static_cast<size_t>(i));
      return 1;
    }
  std::printf("consumer: ok on %s\n", ndl::device{}.filter_string().c_str());
  return 0;
}
