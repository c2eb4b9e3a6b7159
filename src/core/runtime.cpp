#include "core/runtime.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/fault.hpp"
#include "core/queue_impl.hpp"
#include "ndl/detail/checked.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

// The library's checked-mode tag (see ndl/detail/checked.hpp): translation units built in the
// other mode fail to link.
#if NDL_CHECKED
const int library_built_with_NDL_CHECKED = 1;
#else
const int library_built_without_NDL_CHECKED = 0;
#endif

runtime& runtime::get() {
  // Constructed on first use; destroyed at exit after draining work in flight, so no worker
  // runs a kernel while the program's statics are torn down.
  static runtime instance;
  return instance;
}

runtime::runtime() {
  // First: a malformed NDL_FAULT fails the start before any thread is created.
  fault_injection::arm_from_environment();
  backends_ = create_backends(progress_);
  for (auto& b : backends_) {
    helpers_.push_back(b.get());
    const auto infos = b->devices();
    for (size_t i = 0; i < infos.size(); ++i) {
      auto dev = std::make_unique<device_impl>();
      dev->owner = b.get();
      dev->backend_type = b->kind();
      dev->ordinal = static_cast<int>(i);
      dev->filter = std::string(to_string(b->kind())) + ":" + std::to_string(i);
      dev->info = infos[i];
      devices_.push_back(std::move(dev));
    }
  }
  progress_.set_helpers(helpers_.data(), static_cast<int>(helpers_.size()));
}

runtime::~runtime() {
  // Work still in flight at exit completes before the backends go away.
  const waiting_scope waiting(waiting_all);
  flush_all();
  progress_.wait_until([this] { return in_flight.load(std::memory_order_acquire) == 0; });
  default_queues_.clear();
  progress_.set_helpers(nullptr, 0);
  backends_.clear();
}

const device_impl& runtime::default_device() {
  std::lock_guard lock(mutex_);
  if (default_device_) return *default_device_;
  const char* env = std::getenv("NDL_DEVICE");
  if (env && *env) {
    auto matches = match_devices(env);
    if (matches.empty()) {
      std::string avail;
      for (auto& d : devices_)
        avail += " " + d->filter + " (" + d->info.name + ")";
      throw_error(errc::invalid_argument,
                  "NDL_DEVICE='" + std::string(env) + "' matches no device; available:" + avail);
    }
    default_device_ = matches.front();
  } else {
    for (auto& d : devices_)
      if (d->info.kind == device_kind::gpu) {
        default_device_ = d.get();
        break;
      }
    if (!default_device_) default_device_ = devices_.front().get();
  }
  return *default_device_;
}

std::shared_ptr<queue_impl> runtime::default_queue(const device_impl& dev) {
  std::lock_guard lock(mutex_);
  if (default_queues_.empty()) default_queues_.resize(devices_.size());
  size_t index = 0;
  while (devices_[index].get() != &dev)
    ++index;
  auto& q = default_queues_[index];
  if (!q) q = std::make_shared<queue_impl>(dev, queue_options{});
  return q;
}

bool progress::help() {
  for (const auto& h : helpers_) {
    backend* b = h.load(std::memory_order_acquire);
    if (b && b->help_one()) return true;
  }
  return false;
}

bool progress::has_work() const {
  for (const auto& h : helpers_) {
    backend* b = h.load(std::memory_order_acquire);
    if (b && b->has_work()) return true;
  }
  return false;
}

namespace {

struct filter_term {
  bool any_backend = true;
  backend_kind backend = backend_kind::cpu;
  bool any_kind = true;
  device_kind kind = device_kind::cpu;
  int ordinal = -1;
};

[[noreturn]] void bad_filter(std::string_view filter, std::string_view token) {
  throw_error(errc::invalid_argument,
              "malformed device filter '" + std::string(filter) + "': unknown part '" +
                  std::string(token) +
                  "' (expected backend:kind:ordinal, each optional, e.g. cpu, gpu, cuda:1)");
}

filter_term parse_term(std::string_view filter, std::string_view term) {
  filter_term t;
  size_t pos = 0;
  int part = 0;
  while (pos <= term.size()) {
    size_t colon = term.find(':', pos);
    if (colon == std::string_view::npos) colon = term.size();
    std::string token(term.substr(pos, colon - pos));
    for (auto& c : token)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (token.empty()) bad_filter(filter, term);
    if (t.ordinal >= 0) bad_filter(filter, token);  // the ordinal must come last
    if (!token.empty() && std::isdigit(static_cast<unsigned char>(token[0]))) {
      for (char c : token)
        if (!std::isdigit(static_cast<unsigned char>(c))) bad_filter(filter, token);
      if (token.size() > 6) bad_filter(filter, token);
      t.ordinal = std::stoi(token);
    } else if (token == "cpu" && part == 0) {
      // "cpu" names both the CPU backend and the CPU kind; it matches the same device.
      t.any_kind = false;
      t.kind = device_kind::cpu;
    } else if (token == "cuda" && part == 0) {
      t.any_backend = false;
      t.backend = backend_kind::cuda;
    } else if (token == "gpu" && t.any_kind) {
      t.any_kind = false;
      t.kind = device_kind::gpu;
    } else if (token == "cpu" && t.any_kind) {
      t.any_kind = false;
      t.kind = device_kind::cpu;
    } else {
      bad_filter(filter, token);
    }
    ++part;
    pos = colon + 1;
  }
  return t;
}

}  // namespace

std::vector<const device_impl*> match_devices(std::string_view filter) {
  const auto& devs = runtime::get().devices();
  std::vector<const device_impl*> out;
  size_t pos = 0;
  while (pos <= filter.size()) {
    size_t comma = filter.find(',', pos);
    if (comma == std::string_view::npos) comma = filter.size();
    std::string_view term = filter.substr(pos, comma - pos);
    while (!term.empty() && term.front() == ' ')
      term.remove_prefix(1);
    while (!term.empty() && term.back() == ' ')
      term.remove_suffix(1);
    if (term.empty()) bad_filter(filter, term);
    const filter_term t = parse_term(filter, term);
    int seen = 0;
    for (const auto& d : devs) {
      if (!t.any_backend && d->backend_type != t.backend) continue;
      if (!t.any_kind && d->info.kind != t.kind) continue;
      if (t.ordinal >= 0 && seen++ != t.ordinal) continue;
      bool dup = false;
      for (auto* o : out)
        dup = dup || o == d.get();
      if (!dup) out.push_back(d.get());
    }
    pos = comma + 1;
  }
  return out;
}

}  // namespace ndl::detail
