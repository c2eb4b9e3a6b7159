// The list of backends compiled into this build.
#include "backend/backend.hpp"

namespace ndl::detail {

std::unique_ptr<backend> make_cpu_backend(progress& waiter);
#if defined(NDL_WITH_CUDA_BACKEND)
std::unique_ptr<backend> make_cuda_backend();
#endif

std::vector<std::unique_ptr<backend>> create_backends(progress& waiter) {
  std::vector<std::unique_ptr<backend>> out;
  out.push_back(make_cpu_backend(waiter));
#if defined(NDL_WITH_CUDA_BACKEND)
  out.push_back(make_cuda_backend());
#endif
  return out;
}

}  // namespace ndl::detail
