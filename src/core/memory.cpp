#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/fault.hpp"
#include "core/queue_impl.hpp"
#include "core/runtime.hpp"
#include "core/stats.hpp"
#include "ndl/error.hpp"
#include "ndl/memory/array.hpp"
#include "ndl/memory/usm.hpp"

namespace ndl {
namespace detail {

namespace {

struct allocation {
  size_t bytes;
  usm_kind kind;
  const device_impl* dev;
};

// Every live USM allocation by start address: validates frees and answers pointer queries.
class usm_registry {
 public:
  void add(void* p, allocation a) {
    std::lock_guard lock(mutex_);
    map_.emplace(reinterpret_cast<std::uintptr_t>(p), a);
    bytes_ += a.bytes;
  }
  bool remove(void* p, const device_impl* expected_dev, allocation& out) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == map_.end()) return false;
    if (expected_dev && it->second.dev != expected_dev) {
      out = it->second;
      return false;
    }
    out = it->second;
    bytes_ -= it->second.bytes;
    map_.erase(it);
    return true;
  }
  void totals(size_t& count, size_t& bytes) {
    std::lock_guard lock(mutex_);
    count = map_.size();
    bytes = bytes_;
  }
  pointer_info find(const void* p) {
    std::lock_guard lock(mutex_);
    const auto key = reinterpret_cast<std::uintptr_t>(p);
    auto it = map_.upper_bound(key);
    if (it == map_.begin()) return {};
    --it;
    if (key >= it->first + (it->second.bytes ? it->second.bytes : 1)) return {};
    return {true, it->second.kind, it->second.bytes, reinterpret_cast<void*>(it->first)};
  }

 private:
  std::mutex mutex_;
  std::map<std::uintptr_t, allocation> map_;
  size_t bytes_ = 0;  // the sum of map_'s sizes
};

usm_registry& registry() {
  // Never destroyed: arrays released while the runtime drains at exit still unregister.
  static usm_registry* r = new usm_registry;
  return *r;
}

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

}  // namespace

runtime_stats get_runtime_stats() {
  runtime_stats s;
  // Acquire pairs with the release decrements in finish_command().
  s.commands_in_flight = runtime::get().in_flight.load(std::memory_order_acquire);
  count_commands.store(true, std::memory_order_relaxed);
  s.commands_alive = live_commands.load(std::memory_order_relaxed);
  registry().totals(s.usm_allocations, s.usm_bytes);
  return s;
}

void throw_size_overflow(size_t count, size_t element_size) {
  throw_error(errc::out_of_memory, "cannot allocate " + std::to_string(count) + " elements of " +
                                       std::to_string(element_size) +
                                       " bytes: the size overflows 64 bits");
}

void throw_shape_overflow(int dims, const size_t* shape) {
  std::string text = "{";
  for (int d = 0; d < dims; ++d)
    text += (d ? ", " : "") + std::to_string(shape[d]);
  throw_error(errc::out_of_memory, "cannot allocate an array of shape " + text +
                                       "}: its element count overflows 64 bits");
}

usm_block::usm_block(size_t bytes, const queue& q, usm_kind kind)
    : data_(ndl::malloc(bytes, q, kind)), bytes_(bytes), queue_(q), kind_(kind) {}

usm_block::~usm_block() {
  try {
    ndl::free(data_, queue_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ndl: freeing an array failed: %s\n", e.what());
  }
}

namespace {
// True when a strided array's elements are contiguous in row-major order.
bool is_row_major(int dims, const size_t* shape, const ptrdiff_t* strides) {
  size_t expect = 1;  // unsigned: an empty array's product may wrap (defined, and unused)
  for (int d = dims - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != static_cast<ptrdiff_t>(expect)) return false;
    expect *= shape[d];
  }
  return true;
}

event submit_strided(const queue& q, command_kind kind, std::shared_ptr<const void> owner,
                     const void* src, size_t elem_size, int dims, const size_t* shape,
                     const ptrdiff_t* strides, void* dst, event_list deps) {
  if (!src || !dst)
    throw_error(errc::invalid_argument, "array copy with a null host or device pointer");
  const auto& impl = q.impl();
  // A contiguous array moves as one plain copy, which every backend does fastest.
  const bool contiguous = is_row_major(dims, shape, strides);
  auto cmd = impl->make_command(contiguous ? command_kind::copy : kind, impl);
  cmd->keep_alive = std::move(owner);
  cmd->src = src;
  cmd->dst = dst;
  if (contiguous) {
    cmd->bytes = elem_size;
    for (int d = 0; d < dims; ++d)
      cmd->bytes *= shape[d];
  }
  cmd->elem_size = elem_size;
  cmd->dims = dims;
  for (int d = 0; d < dims; ++d) {
    cmd->shape[d] = shape[d];
    cmd->strides[d] = strides[d];
  }
  impl->submit(cmd, deps);
  return event(std::shared_ptr<event_state>(cmd, &cmd->device_event));
}
}  // namespace

event copy_strided_to_host(const queue& q, std::shared_ptr<const void> owner, const void* src,
                           size_t elem_size, int dims, const size_t* shape,
                           const ptrdiff_t* strides, void* dst, event_list deps) {
  return submit_strided(q, command_kind::strided_read, std::move(owner), src, elem_size, dims,
                        shape, strides, dst, deps);
}

event copy_host_to_strided(const queue& q, std::shared_ptr<const void> owner, const void* src,
                           size_t elem_size, int dims, const size_t* shape,
                           const ptrdiff_t* strides, void* dst, event_list deps) {
  return submit_strided(q, command_kind::strided_write, std::move(owner), src, elem_size, dims,
                        shape, strides, dst, deps);
}

void throw_bad_slice(int dim, size_t extent, ptrdiff_t start, ptrdiff_t stop, ptrdiff_t step) {
  throw_error(errc::invalid_argument, "slice(" + std::to_string(start) + ", " +
                                          std::to_string(stop) + ", " + std::to_string(step) +
                                          ") does not fit dimension " + std::to_string(dim) +
                                          " of extent " + std::to_string(extent) +
                                          (step == 0 ? " (step must not be 0)" : ""));
}

void throw_bad_index(int dim, size_t extent, ptrdiff_t index) {
  throw_error(errc::invalid_argument, "index " + std::to_string(index) + " is outside dimension " +
                                          std::to_string(dim) + " of extent " +
                                          std::to_string(extent));
}

void throw_empty_array() {
  throw_error(errc::invalid_argument,
              "the array is default-constructed: it has no memory and no queue");
}

void throw_size_mismatch(size_t expected, size_t got) {
  throw_error(errc::invalid_argument, "host buffer has " + std::to_string(got) +
                                          " elements but the array has " +
                                          std::to_string(expected));
}

}  // namespace detail

std::string_view to_string(usm_kind kind) noexcept {
  switch (kind) {
    case usm_kind::device:
      return "device";
    case usm_kind::shared:
      return "shared";
    case usm_kind::host:
      return "host";
  }
  return "unknown";
}

void* malloc(size_t bytes, const queue& q, usm_kind kind) {
  const auto& dev = q.impl()->device();
  // An injected fault fails as the device would, with the same message plus where it came from.
  const auto fault = detail::fault_injection::fires(detail::fault_site::alloc);
  // A zero-byte request still gets a unique pointer, so that every allocation can be freed
  // and told apart.
  void* p = fault ? nullptr : dev.owner->allocate(dev.ordinal, kind, bytes ? bytes : 1);
  if (!p && !fault && detail::runtime::get().in_flight.load(std::memory_order_acquire) != 0) {
    // Launches that have finished may not have released their arguments yet (GPU completions
    // are noticed lazily, ADR 0008): have them noticed, then try again for up to 100 ms while
    // commands are still in flight.
    auto& rt = detail::runtime::get();
    const detail::runtime::waiting_scope waiting(rt.waiting_all);
    rt.flush_all();
    for (int i = 0; i < 100 && !p; ++i) {
      // Once nothing is in flight, everything has been released: one last try.
      const bool drained = rt.in_flight.load(std::memory_order_acquire) == 0;
      if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      p = dev.owner->allocate(dev.ordinal, kind, bytes ? bytes : 1);
      if (drained) break;
    }
  }
  if (!p)
    detail::throw_error(
        errc::out_of_memory,
        "cannot allocate " + std::to_string(bytes) + " bytes of " + std::string(to_string(kind)) +
            " memory on " + dev.filter +
            (fault ? ": " + detail::fault_injection::describe(detail::fault_site::alloc, fault)
                   : std::string()));
  detail::registry().add(p, {bytes, kind, &dev});
  return p;
}

void free(void* ptr, const queue& q) {
  if (!ptr) return;
  const auto& dev = q.impl()->device();
  detail::allocation a{};
  if (!detail::registry().remove(ptr, &dev, a)) {
    if (a.dev)
      detail::throw_error(errc::invalid_argument, "free(" + detail::hex(ptr) + ") on a queue of " +
                                                      dev.filter + ", but the memory belongs to " +
                                                      a.dev->filter);
    detail::throw_error(
        errc::invalid_argument,
        "free(" + detail::hex(ptr) + "): not the start of a live USM allocation (double free?)");
  }
  dev.owner->deallocate(dev.ordinal, a.kind, ptr);
}

void free(void* ptr) {
  if (!ptr) return;
  detail::allocation a{};
  if (!detail::registry().remove(ptr, nullptr, a))
    detail::throw_error(
        errc::invalid_argument,
        "free(" + detail::hex(ptr) + "): not the start of a live USM allocation (double free?)");
  a.dev->owner->deallocate(a.dev->ordinal, a.kind, ptr);
}

pointer_info get_pointer_info(const void* ptr) {
  return detail::registry().find(ptr);
}

}  // namespace ndl
