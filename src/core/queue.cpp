#include "ndl/queue.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/fault.hpp"
#include "core/queue_impl.hpp"
#include "ndl/error.hpp"

namespace ndl {
namespace detail {

namespace {
std::atomic<int> next_queue_id{0};
}

queue_impl::queue_impl(const device_impl& dev, queue_options options)
    : dev_(dev),
      options_(options),
      backend_state_(dev.owner->make_queue_state(dev.ordinal, options.in_order)),
      device_ordering_(dev.owner->orders_on_device()),
      id_(next_queue_id.fetch_add(1, std::memory_order_relaxed)) {}

queue_impl::~queue_impl() {
  // Commands hold their queue until they finish, so nothing is in flight here. Errors that
  // nobody waited for must not vanish: report them.
  for (const auto& f : failures_) {
    if (observed(f)) continue;
    try {
      std::rethrow_exception(f.error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ndl: %s destroyed with an error nobody waited for: %s\n",
                   describe().c_str(), e.what());
    } catch (...) {
      std::fprintf(stderr, "ndl: %s destroyed with an unknown error nobody waited for\n",
                   describe().c_str());
    }
  }
}

std::string queue_impl::describe() const {
  std::string s = "queue#" + std::to_string(id_) + " (" + dev_.filter + ", ";
  s += options_.in_order ? "in-order" : "out-of-order";
  if (options_.enable_profiling) s += ", profiling";
  return s + ")";
}

std::shared_ptr<command> queue_impl::make_command(command_kind kind,
                                                  std::shared_ptr<queue_impl> self) const {
  auto cmd = std::make_shared<command>(kind, std::move(self), options_.enable_profiling);
  cmd->lazy_completion = device_ordering_;
  if (options_.enable_profiling) {
    cmd->device_event.t_submit = now_ns();
    cmd->host_event.t_submit = cmd->device_event.t_submit;
  }
  return cmd;
}

void queue_impl::submit(const std::shared_ptr<command>& cmd, event_list deps) {
  // Before anything is registered: a failed submission leaves no trace in the queue.
  if (const auto call = fault_injection::fires(fault_site::submit))
    throw_error(errc::backend_failure,
                "submitting " + cmd->describe() + " to " + describe() +
                    " failed: " + fault_injection::describe(fault_site::submit, call));
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  runtime::get().in_flight.fetch_add(1, std::memory_order_relaxed);
  for (const event& e : deps) {
    if (const auto& s = e.state()) add_dependency(cmd, s, /*propagate=*/true);
  }
  if (options_.in_order) {
    std::shared_ptr<command> prev;
    {
      // The lock makes "become last" atomic with reading the previous last, so commands
      // from several threads are ordered exactly as they took the lock.
      std::lock_guard lock(mutex_);
      prev = std::exchange(last_, cmd);
    }
    if (prev) {
      // The dependency takes over the reference the queue held (no count traffic).
      event_state* ev = &prev->device_event;
      add_dependency(cmd, std::shared_ptr<event_state>(std::move(prev), ev), /*propagate=*/false);
    }
  }
  // Drop the submitter's own hold; starts the command if every dependency is complete.
  dependency_done(cmd, nullptr, false);
}

void queue_impl::add_dependency(const std::shared_ptr<command>& cmd,
                                const std::shared_ptr<event_state>& s, bool propagate) {
  if (s->is_complete()) {
    if (!s->error()) return;  // nothing to wait for
  } else if (device_ordering_) {
    // Acquire pairs with the backend's release store: device_marker and device_stream are
    // valid. A command enqueued by this backend is ordered on the device, not waited for here.
    const command* dep = s->owner;
    if (dep && dep->enqueued.load(std::memory_order_acquire) && dep->enqueued_by == dev_.owner) {
      // An in-order queue is one ordered stream on such a device: an earlier command of the
      // same queue needs nothing more. (Synchronous launches still list it, so that they
      // return only after the events before them have completed.)
      if (dep->submitted_to == this && options_.in_order && !cmd->run_inline) return;
      cmd->device_waits.push_back(s);
      return;
    }
  }
  cmd->pending.fetch_add(1, std::memory_order_relaxed);
  if (!s->add_dependent(cmd, propagate)) {
    // Already complete: count it done now (an explicit dependency's error still propagates).
    dependency_done(cmd, propagate ? s->root_error() : nullptr, propagate);
    return;
  }
  // Waited for on the host (another backend's command, say): its completion is needed soon.
  flush_completion(*s);
}

void queue_impl::wait() {
  {
    // Counted before the flush: a command enqueued after it sees the count (awaited()).
    const runtime::waiting_scope waiting(waiting_);
    if (in_flight_.load(std::memory_order_acquire) != 0) dev_.owner->flush_queue(backend_state());
    runtime::get().waiter().wait_until(
        [this] { return in_flight_.load(std::memory_order_acquire) == 0; });
  }
  std::vector<failure_record> failures;
  {
    std::lock_guard lock(mutex_);
    failures.swap(failures_);
  }
  // Report a root cause first: a dependent of a failed command may finish (and be recorded)
  // before the command that failed it, but its error only repeats that cause.
  std::exception_ptr first, first_dependent;
  size_t unobserved = 0;
  for (const auto& f : failures) {
    if (observed(f)) continue;
    ++unobserved;
    auto& slot = f.cmd->dependency_error ? first_dependent : first;
    if (!slot) slot = f.error;
  }
  if (unobserved == 0) return;
  if (!first) first = first_dependent;
  const size_t others = unobserved - 1;
  if (others == 0) std::rethrow_exception(first);
  try {
    std::rethrow_exception(first);
  } catch (const error& e) {
    throw error(e.code(), e.message() + " (and " + std::to_string(others) +
                              " more failed commands nobody waited for on " + describe() + ")");
  }
}

void queue_impl::on_finished(const std::shared_ptr<command>& cmd, const std::exception_ptr& error) {
  if (error) {
    std::lock_guard lock(mutex_);
    failures_.push_back({error, cmd});
  }
  if (options_.in_order) {
    std::lock_guard lock(mutex_);
    // Forget the last command once it is done, so the queue does not keep it alive.
    if (last_ == cmd) last_.reset();
  }
  // Release pairs with the acquire load in wait().
  in_flight_.fetch_sub(1, std::memory_order_release);
}

bool queue_impl::observed(const failure_record& f) const {
  return f.cmd->device_event.error_observed() || f.cmd->host_event.error_observed();
}

}  // namespace detail

using detail::runtime;

queue::queue() : impl_(runtime::get().default_queue(runtime::get().default_device())) {}

queue::queue(const device& dev, queue_options options)
    : impl_(std::make_shared<detail::queue_impl>(*dev.impl(), options)) {}

queue queue::default_queue(const device& dev) {
  return queue(runtime::get().default_queue(*dev.impl()));
}
queue queue::default_queue() {
  return queue();
}

device queue::get_device() const {
  return device(&impl_->device());
}
bool queue::is_in_order() const {
  return impl_->options().in_order;
}
bool queue::has_profiling() const {
  return impl_->options().enable_profiling;
}
std::string queue::describe() const {
  return impl_->describe();
}

void queue::wait() const {
  impl_->wait();
}

void queue::memcpy(void* dst, const void* src, size_t bytes) const {
  memcpy_async(dst, src, bytes).wait();
}

event queue::memcpy_async(void* dst, const void* src, size_t bytes, event_list deps) const {
  if (bytes != 0 && (!dst || !src))
    detail::throw_error(errc::invalid_argument, std::string("memcpy of ") + std::to_string(bytes) +
                                                    " bytes with a null " +
                                                    (dst ? "source" : "destination") + " pointer");
  auto cmd = impl_->make_command(detail::command_kind::copy, impl_);
  cmd->dst = dst;
  cmd->src = src;
  cmd->bytes = bytes;
  impl_->submit(cmd, deps);
  return event(std::shared_ptr<detail::event_state>(cmd, &cmd->device_event));
}

event queue::fill_bytes(void* ptr, const void* pattern, size_t pattern_size, size_t align,
                        size_t count, event_list deps) const {
  if (count != 0 && !ptr)
    detail::throw_error(errc::invalid_argument,
                        "fill of " + std::to_string(count) + " elements at a null pointer");
  if (reinterpret_cast<std::uintptr_t>(ptr) % align != 0)
    detail::throw_error(errc::invalid_argument,
                        "fill pointer is not aligned to its element type's alignment of " +
                            std::to_string(align) + " bytes");
  auto cmd = impl_->make_command(detail::command_kind::fill, impl_);
  cmd->dst = ptr;
  cmd->set_pattern(pattern, pattern_size);
  cmd->bytes = count;
  impl_->submit(cmd, deps);
  return event(std::shared_ptr<detail::event_state>(cmd, &cmd->device_event));
}

}  // namespace ndl
