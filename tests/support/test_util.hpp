// Helpers shared by the tests: checking ndl::error codes and messages, gates that hold
// CPU kernels until the test releases them (with a time limit, so nothing can hang), and
// bounded host-side polling.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ndl/ndl.hpp>
#include <string>
#include <string_view>
#include <thread>

namespace ndl_test {

/// How long a kernel or a host loop may spin before it gives up and records a failure.
/// Far above anything a healthy run needs, far below the ctest timeout.
inline constexpr std::chrono::seconds spin_limit{10};

/// Runs `f`; succeeds when it throws ndl::error with `code` and a message (the part after
/// "ndl::error [code]: ") containing every string of `parts`. Prints what happened otherwise.
inline ::testing::AssertionResult throws_error(const std::function<void()>& f, ndl::errc code,
                                               std::initializer_list<std::string_view> parts) {
  try {
    f();
  } catch (const ndl::error& e) {
    if (e.code() != code)
      return ::testing::AssertionFailure()
             << "expected errc::" << ndl::to_string(code)
             << ", got errc::" << ndl::to_string(e.code()) << ": " << e.what();
    const std::string what = e.what();
    if (what.find(std::string("[") + std::string(ndl::to_string(code)) + "]") == std::string::npos)
      return ::testing::AssertionFailure() << "what() does not name the code: " << what;
    for (std::string_view p : parts)
      if (e.message().find(p) == std::string::npos)
        return ::testing::AssertionFailure()
               << "message lacks \"" << p << "\"; message: " << e.message();
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure()
           << "expected ndl::error, got another exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "expected ndl::error, got a non-std exception";
  }
  return ::testing::AssertionFailure()
         << "expected ndl::error errc::" << ndl::to_string(code) << ", nothing was thrown";
}

/// The message of the ndl::error `f` throws, or "" (with a test failure) when it throws none.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const ndl::error& e) {
    return e.message();
  }
  ADD_FAILURE() << "expected an ndl::error";
  return {};
}

/// Polls `done` on the host (without helping the runtime) until it holds or `limit` passes.
template <class Pred>
bool spin_until(Pred&& done, std::chrono::milliseconds limit = spin_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

/// A gate that CPU kernels wait at until the test opens it.
///
/// Share it through a std::shared_ptr captured by value in the kernel lambda, so that it
/// outlives every kernel even when the test ends early. Waiting kernels give up after
/// spin_limit and count a timeout instead of hanging.
struct gate {
  std::atomic<bool> is_open{false};
  std::atomic<int> arrived{0};
  std::atomic<int> timeouts{0};

  /// Lets every waiting and future kernel through.
  void open() { is_open.store(true, std::memory_order_release); }

  /// Kernel side: counts the arrival, then waits until the gate is open. False on timeout.
  bool pass() {
    arrived.fetch_add(1, std::memory_order_acq_rel);
    const auto deadline = std::chrono::steady_clock::now() + spin_limit;
    while (!is_open.load(std::memory_order_acquire)) {
      if (std::chrono::steady_clock::now() > deadline) {
        timeouts.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      std::this_thread::yield();
    }
    return true;
  }

  /// Host side: waits until `n` kernels have arrived (without helping the runtime).
  bool wait_arrived(int n) const {
    return spin_until([&] { return arrived.load(std::memory_order_acquire) >= n; });
  }
};

/// Opens a gate when it goes out of scope, so that an early return (a failed ASSERT) never
/// leaves kernels waiting.
class open_on_exit {
 public:
  explicit open_on_exit(std::shared_ptr<gate> g) : g_(std::move(g)) {}
  ~open_on_exit() { g_->open(); }
  open_on_exit(const open_on_exit&) = delete;
  open_on_exit& operator=(const open_on_exit&) = delete;

 private:
  std::shared_ptr<gate> g_;
};

/// Sanitizer builds run the largest work-group launches with this many times fewer groups:
/// under ThreadSanitizer every work-item of a group with barriers runs on a fiber it tracks.
#if defined(__SANITIZE_THREAD__)
inline constexpr std::size_t fewer_under_tsan = 16;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr std::size_t fewer_under_tsan = 16;
#else
inline constexpr std::size_t fewer_under_tsan = 1;
#endif
#else
inline constexpr std::size_t fewer_under_tsan = 1;
#endif

/// Waits (without helping the runtime) at most spin_limit for a launch, then waits on both
/// events, rethrowing the launch's error. False, with a test failure, when it hangs.
inline bool bounded(const ndl::launch_events& ev) {
  if (!spin_until([&] { return ev.device_event.is_complete(); })) {
    ADD_FAILURE() << "the launch did not finish within " << spin_limit.count() << " s";
    return false;
  }
  ev.device_event.wait();  // rethrows the kernel's failure
  ev.host_event.wait();
  return true;
}

/// Waits for `q` and swallows its errors: cleanup at the end of tests whose errors were
/// checked already.
inline void drain(const ndl::queue& q) {
  try {
    q.wait();
  } catch (const ndl::error&) {
  }
}

}  // namespace ndl_test

/// Expects `statement` to throw ndl::error with `code` and a message containing every
/// following string.
#define NDL_EXPECT_ERROR(statement, code, ...) \
  EXPECT_TRUE(::ndl_test::throws_error([&] { statement; }, code, {__VA_ARGS__}))

/// As NDL_EXPECT_ERROR, but ends the test on failure.
#define NDL_ASSERT_ERROR(statement, code, ...) \
  ASSERT_TRUE(::ndl_test::throws_error([&] { statement; }, code, {__VA_ARGS__}))
