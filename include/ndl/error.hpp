/// @file error.hpp
/// The one exception type of ndlaunch and its error codes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "ndl/config.hpp"

namespace ndl {

/// What went wrong; every ndl::error carries one.
enum class errc {
  invalid_range,      ///< an index space is malformed or exceeds the device's limits
  queue_inference,    ///< array arguments live on different queues (compute follows data)
  invalid_argument,   ///< a value passed to an API call is not acceptable
  unsupported,        ///< the operation is not available on this device or build
  out_of_memory,      ///< an allocation failed
  kernel_failure,     ///< a kernel raised an error while running
  device_lost,        ///< the device can no longer be used
  backend_failure,    ///< the backend (driver, OS) reported an error
  dependency_failed,  ///< a command did not run because a command it depends on failed
  compile_failure,    ///< kernel source compiled at run time did not compile (the log says why)
};

/// The name of an error code, for example "invalid_range".
NDL_API std::string_view to_string(errc code) noexcept;

/// The exception thrown by every ndlaunch API call and rethrown by event::wait().
///
/// `what()` reads "ndl::error [code]: message"; the message names the argument and the
/// numbers involved.
class NDL_API error : public std::runtime_error {
 public:
  /// Builds an error with its code and message.
  error(errc code, std::string_view message);

  /// The error code.
  errc code() const noexcept { return code_; }

  /// The message without the "ndl::error [code]: " prefix.
  const std::string& message() const noexcept { return message_; }

 private:
  errc code_;
  std::string message_;
};

namespace detail {
/// Throws ndl::error; every throw in ndlaunch goes through here (one place to break on).
[[noreturn]] NDL_API void throw_error(errc code, std::string_view message);
}  // namespace detail

}  // namespace ndl
