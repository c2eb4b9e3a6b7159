#include "ndl/error.hpp"

#include <string>

#include "ndl/range.hpp"

namespace ndl {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_range:
      return "invalid_range";
    case errc::queue_inference:
      return "queue_inference";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::unsupported:
      return "unsupported";
    case errc::out_of_memory:
      return "out_of_memory";
    case errc::kernel_failure:
      return "kernel_failure";
    case errc::device_lost:
      return "device_lost";
    case errc::backend_failure:
      return "backend_failure";
    case errc::dependency_failed:
      return "dependency_failed";
    case errc::compile_failure:
      return "compile_failure";
  }
  return "unknown";
}

namespace {
std::string format(errc code, std::string_view message) {
  std::string s = "ndl::error [";
  s += to_string(code);
  s += "]: ";
  s += message;
  return s;
}
}  // namespace

error::error(errc code, std::string_view message)
    : std::runtime_error(format(code, message)), code_(code), message_(message) {}

namespace detail {

void throw_error(errc code, std::string_view message) {
  throw error(code, message);
}

void throw_negative_extent(int dim, long long value) {
  throw_error(errc::invalid_range, "extent of dimension " + std::to_string(dim) + " is negative (" +
                                       std::to_string(value) + ")");
}

}  // namespace detail
}  // namespace ndl
