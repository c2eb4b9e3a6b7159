/// @file config.hpp
/// Compiler portability macros shared by host and kernel-side headers.
#pragma once

/// Marks a function (or lambda) as callable from kernels on every device.
///
/// Expands to `__host__ __device__` under a CUDA compiler and to nothing otherwise, so one
/// source compiles for the CPU device and for NVIDIA GPUs.
#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#define NDL_KERNEL_FN __host__ __device__
#else
#define NDL_KERNEL_FN
#endif

/// Forces inlining of small kernel-side helpers on the hot path.
#if defined(__GNUC__) || defined(__clang__)
#define NDL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NDL_ALWAYS_INLINE inline
#endif

/// Hints that a branch is unlikely (error paths in checks).
#if defined(__GNUC__) || defined(__clang__)
#define NDL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NDL_UNLIKELY(x) (x)
#endif

/// Checked mode: 1 when every `ndl::view` access is bounds-checked (CMake option
/// `NDL_CHECKED`, which defines it for the library and everything that links to it).
///
/// It changes the layout of `ndl::view` and of the launch records, so it must have the same
/// value in every translation unit of a program and in the library it links to.
#ifndef NDL_CHECKED
#define NDL_CHECKED 0
#endif

/// Symbol visibility of the compiled runtime library.
#if defined(_WIN32) || defined(__CUDACC_RTC__)
#define NDL_API
#else
#define NDL_API __attribute__((visibility("default")))
#endif
