// White-box tests of the CUDA backend's error mapping (src/cuda/cuda_check): which CUDA
// errors lose the device, which are out of memory, and that every message names the CUDA
// error and the call. They need no GPU.
#include <gtest/gtest.h>

#include <ndl/error.hpp>
#include <string>

#include "cuda/cuda_check.hpp"

namespace {

ndl::error rethrown(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const ndl::error& err) {
    return err;
  }
  return ndl::error(ndl::errc::invalid_argument, "not an ndl::error");
}

TEST(cuda_check_test, sticky_errors_lose_the_device_and_later_checks_say_so) {
  ndl::cuda::device_health health;
  EXPECT_FALSE(health.is_lost());
  const auto e = rethrown(
      ndl::cuda::cuda_error(cudaErrorIllegalAddress, "running kernel 'k'", "cuda:3", &health));
  EXPECT_EQ(e.code(), ndl::errc::device_lost);
  const std::string what = e.what();
  EXPECT_NE(what.find("cudaErrorIllegalAddress"), std::string::npos) << what;
  EXPECT_NE(what.find("running kernel 'k'"), std::string::npos) << what;
  EXPECT_NE(what.find("cuda:3"), std::string::npos) << what;
  EXPECT_TRUE(health.is_lost());
  try {
    health.check("cuda:3");
    FAIL() << "a lost device passed its check";
  } catch (const ndl::error& later) {
    EXPECT_EQ(later.code(), ndl::errc::device_lost);
    EXPECT_NE(std::string(later.what()).find("cudaErrorIllegalAddress"), std::string::npos);
  }
  // The first cause is kept.
  (void)ndl::cuda::cuda_error(cudaErrorLaunchFailure, "second", "cuda:3", &health);
  EXPECT_NE(health.reason().find("cudaErrorIllegalAddress"), std::string::npos);
}

TEST(cuda_check_test, every_context_poisoning_error_is_sticky) {
  for (cudaError_t e :
       {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorIllegalInstruction,
        cudaErrorMisalignedAddress, cudaErrorHardwareStackError, cudaErrorAssert,
        cudaErrorInvalidPc, cudaErrorLaunchTimeout, cudaErrorECCUncorrectable})
    EXPECT_TRUE(ndl::cuda::is_sticky(e)) << cudaGetErrorName(e);
  for (cudaError_t e : {cudaErrorInvalidValue, cudaErrorMemoryAllocation,
                        cudaErrorInvalidConfiguration, cudaErrorNotReady, cudaErrorNoDevice})
    EXPECT_FALSE(ndl::cuda::is_sticky(e)) << cudaGetErrorName(e);
}

TEST(cuda_check_test, other_errors_are_backend_failures_naming_the_cuda_error) {
  ndl::cuda::device_health health;
  const auto e = rethrown(ndl::cuda::cuda_error(cudaErrorInvalidConfiguration,
                                                "launching kernel 'k'", "cuda:0", &health));
  EXPECT_EQ(e.code(), ndl::errc::backend_failure);
  EXPECT_NE(std::string(e.what()).find("cudaErrorInvalidConfiguration"), std::string::npos)
      << e.what();
  EXPECT_FALSE(health.is_lost());
  EXPECT_NO_THROW(health.check("cuda:0"));
  EXPECT_EQ(
      rethrown(ndl::cuda::cuda_error(cudaErrorMemoryAllocation, "cudaMalloc", "cuda:0", &health))
          .code(),
      ndl::errc::out_of_memory);
  EXPECT_NO_THROW(ndl::cuda::check(cudaSuccess, "nothing", "cuda:0", &health));
  EXPECT_THROW(ndl::cuda::check(cudaErrorInvalidValue, "cudaMemcpyAsync", "cuda:0", &health),
               ndl::error);
}

}  // namespace
