#include "ndl/event.hpp"

#include "core/command.hpp"
#include "core/event_state.hpp"
#include "core/runtime.hpp"
#include "ndl/error.hpp"

namespace ndl {
namespace detail {

void event_state::complete(std::exception_ptr error, std::exception_ptr root) noexcept {
  std::vector<dependent> deps;
  {
    std::lock_guard lock(mutex_);
    root_error_ = root ? std::move(root) : error;
    error_ = std::move(error);
    // Release pairs with the acquire loads in status(): whoever sees `complete` sees error_.
    status_.store(static_cast<std::uint32_t>(event_status::complete), std::memory_order_release);
    deps.swap(dependents_);
  }
  for (auto& d : deps)
    dependency_done(d.cmd, root_error_, d.propagate);
}

bool event_state::add_dependent(const std::shared_ptr<command>& cmd, bool propagate) {
  std::lock_guard lock(mutex_);
  if (status_.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(event_status::complete))
    return false;
  dependents_.push_back({cmd, propagate});
  return true;
}

void event_state::wait() {
  if (!is_complete()) {
    flush_completion(*this);
    runtime::get().waiter().wait_until([this] { return is_complete(); });
  }
  if (error_) {
    observed_.store(true, std::memory_order_release);
    std::rethrow_exception(error_);
  }
}

}  // namespace detail

void event::wait() const {
  if (state_) state_->wait();
}

event_status event::status() const noexcept {
  return state_ ? state_->status() : event_status::complete;
}

bool event::has_error() const noexcept {
  return state_ && state_->is_complete() && state_->error() != nullptr;
}

namespace {
const detail::event_state& profiled(const std::shared_ptr<detail::event_state>& s) {
  if (!s || !s->profiling())
    detail::throw_error(errc::invalid_argument,
                        "profiling information requested from an event whose queue was not "
                        "created with queue_options::enable_profiling");
  if (!s->is_complete()) {
    detail::flush_completion(*s);
    detail::runtime::get().waiter().wait_until([&] { return s->is_complete(); });
  }
  return *s;
}
}  // namespace

std::uint64_t event::profiling_submit() const {
  return profiled(state_).t_submit;
}
std::uint64_t event::profiling_start() const {
  return profiled(state_).t_start;
}
std::uint64_t event::profiling_end() const {
  return profiled(state_).t_end;
}

void wait(event_list events) {
  for (const event& e : events)
    if (e.state()) detail::flush_completion(*e.state());
  for (const event& e : events)
    if (e.state() && !e.state()->is_complete())
      detail::runtime::get().waiter().wait_until([&] { return e.state()->is_complete(); });
  for (const event& e : events)
    e.wait();
}

}  // namespace ndl
