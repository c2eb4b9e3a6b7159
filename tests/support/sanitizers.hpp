// Which sanitizer a test executable is built with, and the sanitizer option the tests that
// provoke out-of-memory need.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define NDL_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NDL_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define NDL_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NDL_TEST_TSAN 1
#endif
#endif

namespace ndl_test {
#ifdef NDL_TEST_ASAN
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif
#ifdef NDL_TEST_TSAN
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
/// True in sanitizer builds: their allocators replace malloc, and everything runs slower.
inline constexpr bool under_sanitizer = under_asan || under_tsan;
}  // namespace ndl_test

/// Tests that ask for 2^60 bytes expect a clean out_of_memory error; the sanitizers'
/// allocators abort on such requests unless told to return null as malloc does. Use once per
/// executable, at namespace scope, in a file that provokes out-of-memory.
#if defined(NDL_TEST_ASAN)
#define NDL_TEST_ALLOCATOR_MAY_RETURN_NULL()        \
  extern "C" const char* __asan_default_options() { \
    return "allocator_may_return_null=1";           \
  }
#elif defined(NDL_TEST_TSAN)
#define NDL_TEST_ALLOCATOR_MAY_RETURN_NULL()        \
  extern "C" const char* __tsan_default_options() { \
    return "allocator_may_return_null=1";           \
  }
#else
#define NDL_TEST_ALLOCATOR_MAY_RETURN_NULL()
#endif
