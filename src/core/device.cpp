#include "ndl/device.hpp"

#include "core/runtime.hpp"
#include "ndl/error.hpp"

namespace ndl {

using detail::runtime;

device::device() : impl_(&runtime::get().default_device()) {}

device::device(std::string_view filter) {
  auto matches = detail::match_devices(filter);
  if (matches.empty()) {
    std::string avail;
    for (auto& d : runtime::get().devices())
      avail += " " + d->filter + " (" + d->info.name + ")";
    detail::throw_error(errc::invalid_argument, "no device matches filter '" + std::string(filter) +
                                                    "'; available:" + avail);
  }
  impl_ = matches.front();
}

std::vector<device> device::all() {
  std::vector<device> out;
  for (auto& d : runtime::get().devices())
    out.emplace_back(d.get());
  return out;
}

std::vector<device> device::all(std::string_view filter) {
  std::vector<device> out;
  for (auto* d : detail::match_devices(filter))
    out.emplace_back(d);
  return out;
}

device device::default_device() {
  return device(&runtime::get().default_device());
}

const std::string& device::name() const {
  return impl_->info.name;
}
device_kind device::kind() const {
  return impl_->info.kind;
}
backend_kind device::backend() const {
  return impl_->backend_type;
}
const std::string& device::filter_string() const {
  return impl_->filter;
}
unsigned device::compute_units() const {
  return impl_->info.compute_units;
}
size_t device::max_work_group_size() const {
  return impl_->info.max_work_group_size;
}
size_t device::local_memory_bytes() const {
  return impl_->info.local_memory_bytes;
}

std::string_view to_string(device_kind kind) noexcept {
  return kind == device_kind::cpu ? "cpu" : "gpu";
}
std::string_view to_string(backend_kind kind) noexcept {
  return kind == backend_kind::cpu ? "cpu" : "cuda";
}

}  // namespace ndl
