// Fault injection: makes the n-th allocation, copy, kernel launch or submission fail on
// purpose, so that tests can show that each failure reaches the caller as ndl::error, leaks
// nothing and leaves the runtime usable.
//
// Armed from the environment when the runtime starts (NDL_FAULT, see docs/guide.md) or by
// white-box tests through fault_injection::arm(). Disarmed, a site costs one relaxed load.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "ndl/config.hpp"

namespace ndl::detail {

/// Where a fault can be injected.
enum class fault_site {
  alloc,   // every USM allocation (arrays' storage included): fails as out_of_memory
  copy,    // a memcpy, fill or array transfer command fails when it runs: backend_failure
  launch,  // a kernel command fails when it runs: backend_failure
  submit,  // any submission throws before anything is enqueued: backend_failure
};
inline constexpr int fault_site_count = 4;

/// The site's name in NDL_FAULT ("alloc", "copy", "launch", "submit").
NDL_API std::string_view to_string(fault_site site) noexcept;

class fault_injection {
 public:
  /// Arms `site`: its `nth` call from now on (counted from 1) fails, and with `and_later`
  /// every call after it too. Restarts the site's call and fault counts.
  NDL_API static void arm(fault_site site, std::uint64_t nth, bool and_later = false);

  /// Disarms `site` (its counts stay readable).
  NDL_API static void disarm(fault_site site);

  /// Disarms every site.
  NDL_API static void disarm_all();

  /// Calls of `site` counted since it was last armed (calls are counted only while armed).
  NDL_API static std::uint64_t calls(fault_site site);

  /// Faults injected at `site` since it was last armed.
  NDL_API static std::uint64_t fired(fault_site site);

  /// Arms the sites named in `spec`, NDL_FAULT's syntax: "site:n[+][,site:n[+]...]" (the
  /// n-th call fails; with '+', every call from the n-th on), each site at most once. An
  /// empty spec arms nothing; a malformed one arms nothing and throws.
  /// @throws ndl::error errc::invalid_argument naming the malformed part.
  NDL_API static void arm_from_spec(std::string_view spec);

  /// Arms from the NDL_FAULT environment variable, if set (called once at runtime start).
  /// @throws ndl::error errc::invalid_argument when it is malformed.
  static void arm_from_environment();

  /// The number of this call of `site` when it must fail, else 0. Counts the call while the
  /// site is armed.
  static std::uint64_t fires(fault_site site) noexcept {
    // Relaxed: pairs with nothing; a call racing with arm() may or may not be counted, which
    // is as good as either order. The per-site state is read in fires_slow().
    if (NDL_UNLIKELY(any_armed_.load(std::memory_order_relaxed))) return fires_slow(site);
    return 0;
  }

  /// "fault injected at <site> call <n>", for the messages of injected failures.
  NDL_API static std::string describe(fault_site site, std::uint64_t call);

 private:
  NDL_API static std::uint64_t fires_slow(fault_site site) noexcept;
  static void update_any_armed() noexcept;

  // True while some site is armed.
  NDL_API static std::atomic<bool> any_armed_;
};

}  // namespace ndl::detail
