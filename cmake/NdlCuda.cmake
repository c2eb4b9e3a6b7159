# CUDA support for targets that launch ndlaunch kernels on NVIDIA GPUs.
#
#   ndl_add_cuda_sources(<target> <source>...)
#
# Compiles the given sources of <target> with the CUDA compiler, so that the kernels they
# launch get a CUDA entry point next to the CPU one: extended lambdas (`[] NDL_KERNEL_FN (...)`),
# relaxed constexpr (std::tuple and std::apply inside kernels), C++20, machine code for
# NDL_CUDA_ARCHITECTURES (default: sm_90 plus PTX for compute_75, which the driver compiles for
# any newer GPU) and the shared CUDA runtime, the one libndl uses. Sources not listed stay host
# C++; their kernels run on the CPU device only, and launching them on a CUDA queue raises
# errc::unsupported.
# CMake before 3.26 does not know nvcc's C++20 flag: teach it (nvcc has had it since 12.0).
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
if(NOT DEFINED NDL_CUDA_ARCHITECTURES)
  set(NDL_CUDA_ARCHITECTURES "90-real;75-virtual")
endif()

function(ndl_add_cuda_sources target)
  if(NOT ARGN)
    message(FATAL_ERROR "ndl_add_cuda_sources(${target}): no sources given")
  endif()
  set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES LANGUAGE CUDA)
  set_target_properties(${target} PROPERTIES
    CUDA_ARCHITECTURES "${NDL_CUDA_ARCHITECTURES}"
    CUDA_RUNTIME_LIBRARY Shared)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--extended-lambda --expt-relaxed-constexpr>)
endfunction()
