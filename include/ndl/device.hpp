/// @file device.hpp
/// `ndl::device`: the CPU and GPUs ndlaunch can run kernels on.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ndl/range.hpp"

namespace ndl {

namespace detail {
struct device_impl;
}

/// What a device is.
enum class device_kind { cpu, gpu };

/// Which backend drives a device.
enum class backend_kind { cpu, cuda };

/// A device kernels can run on.
///
/// Devices are enumerated once, at first use. Each is named by a filter string
/// `backend:kind:ordinal` of which every part is optional: "cpu", "gpu", "cuda", "cuda:1",
/// "gpu:0", "cuda:gpu:0"; alternatives are separated by commas ("gpu,cpu"). The environment
/// variable `NDL_DEVICE` (a filter string) picks the default device; without it the default
/// is the first GPU, else the CPU.
///
/// `device` is a cheap handle: copying it copies a pointer into the registry.
///
/// @code
/// for (const ndl::device& d : ndl::device::all())
///   std::cout << d.filter_string() << ": " << d.name() << "\n";
/// ndl::device cpu{"cpu"};
/// @endcode
class NDL_API device {
 public:
  /// The default device (see the class comment).
  /// @throws ndl::error (errc::invalid_argument) when `NDL_DEVICE` matches no device.
  device();

  /// The first device matching `filter`.
  /// @throws ndl::error (errc::invalid_argument) when the filter is malformed or matches no
  ///         device; the message lists the devices available.
  explicit device(std::string_view filter);

  /// Every device, CPU first, then GPUs in backend order.
  static std::vector<device> all();

  /// Every device matching `filter` (possibly none).
  /// @throws ndl::error (errc::invalid_argument) when the filter is malformed.
  static std::vector<device> all(std::string_view filter);

  /// The default device (see the class comment).
  /// @throws ndl::error (errc::invalid_argument) when `NDL_DEVICE` matches no device.
  static device default_device();

  /// The device's marketing name, for example "AMD EPYC 7B13" or "NVIDIA H100 80GB HBM3".
  const std::string& name() const;
  /// CPU or GPU.
  device_kind kind() const;
  /// The backend that drives it.
  backend_kind backend() const;
  /// The canonical filter string naming exactly this device, for example "cuda:0".
  const std::string& filter_string() const;
  /// Parallel compute units (worker threads on the CPU, multiprocessors on a GPU).
  unsigned compute_units() const;
  /// The largest number of work-items in one work-group.
  size_t max_work_group_size() const;
  /// Bytes of work-group local memory available to one work-group.
  size_t local_memory_bytes() const;
  /// True for the CPU device.
  bool is_cpu() const { return kind() == device_kind::cpu; }
  /// True for a GPU.
  bool is_gpu() const { return kind() == device_kind::gpu; }

  friend bool operator==(const device& a, const device& b) { return a.impl_ == b.impl_; }

  /// The registry entry (internal).
  const detail::device_impl* impl() const { return impl_; }
  /// Wraps a registry entry (internal).
  explicit device(const detail::device_impl* impl) : impl_(impl) {}

 private:
  const detail::device_impl* impl_;
};

/// "cpu" or "gpu".
NDL_API std::string_view to_string(device_kind kind) noexcept;
/// "cpu" or "cuda".
NDL_API std::string_view to_string(backend_kind kind) noexcept;

}  // namespace ndl
