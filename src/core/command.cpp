#include "core/command.hpp"

#include <cxxabi.h>

#include <cstdlib>

#include "core/fault.hpp"
#include "core/queue_impl.hpp"
#include "core/runtime.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

std::atomic<bool> count_commands{false};
std::atomic<long> live_commands{0};

std::string demangle(const std::type_info& t) {
  int status = 0;
  char* name = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = (status == 0 && name) ? name : t.name();
  std::free(name);
  return out;
}

std::string command::describe() const {
  switch (kind) {
    case command_kind::kernel:
      if (record.name) return std::string("kernel '") + record.name + "'";
      return "kernel '" + (record.kernel_type ? demangle(*record.kernel_type) : "?") + "'";
    case command_kind::copy:
      return "memcpy";
    case command_kind::fill:
      return "fill";
    case command_kind::strided_read:
      return "array copy to host";
    case command_kind::strided_write:
      return "array copy from host";
  }
  return "command";
}

std::exception_ptr kernel_error(const command& cmd, const cpu_failure& failure) {
  std::string cause;
  try {
    std::rethrow_exception(failure.error);
#if NDL_CHECKED
  } catch (const out_of_bounds_error& e) {
    cause = e.message_for(cmd.record);
#endif
  } catch (const error& e) {
    cause = e.message();  // without the "ndl::error [code]: " prefix
  } catch (const std::exception& e) {
    cause = e.what();
  } catch (...) {
    cause = "an exception not derived from std::exception";
  }
  if (failure.divergence)
    return std::make_exception_ptr(error(errc::kernel_failure, cmd.describe() + ": " + cause));
  const index_space& s = cmd.record.space;
  std::string id = "(";
  for (int d = 0; d < s.dims; ++d)
    id += (d ? ", " : "") + std::to_string(failure.id[d]);
  id += ")";
  return std::make_exception_ptr(
      error(errc::kernel_failure, cmd.describe() + " failed at work-item " + id + ": " + cause));
}

namespace {
void start(const std::shared_ptr<command>& cmd) noexcept {
  if (cmd->dependency_error) {
    std::string cause = "unknown error";
    try {
      std::rethrow_exception(cmd->dependency_error);
    } catch (const error& e) {
      cause = std::string(to_string(e.code())) + ": " + e.message();
    } catch (const std::exception& e) {
      cause = e.what();
    } catch (...) {
    }
    cmd->failure = std::make_exception_ptr(
        error(errc::dependency_failed,
              cmd->describe() + " did not run because a command it depends on failed: " + cause));
    // Still goes through the backend, which skips a cancelled command's work and finishes
    // it from its own loop: finishing here would recurse once per link of a long chain.
    cmd->cancelled.store(true, std::memory_order_relaxed);
  } else {
    // Fault injection fails the command as its backend would, for every backend: it is
    // cancelled with its failure set, and the backend finishes it without running it.
    const fault_site site =
        cmd->kind == command_kind::kernel ? fault_site::launch : fault_site::copy;
    if (const auto call = fault_injection::fires(site))
      cmd->fail(std::make_exception_ptr(error(
          errc::backend_failure, cmd->describe() + " failed on " + cmd->queue->device().filter +
                                     ": " + fault_injection::describe(site, call))));
  }
  if (cmd->device_event.profiling()) cmd->device_event.t_start = now_ns();
  try {
    cmd->queue->device().owner->execute(cmd);
  } catch (...) {
    cmd->fail(std::current_exception());
    finish_command(cmd);
  }
}
}  // namespace

void dependency_done(const std::shared_ptr<command>& cmd, const std::exception_ptr& error,
                     bool propagate) noexcept {
  if (error && propagate) {
    std::lock_guard lock(cmd->failure_mutex);
    if (!cmd->dependency_error) cmd->dependency_error = error;
  }
  // acq_rel: the thread that takes `pending` to zero sees every dependency's error. A count
  // of one is the caller's own hold, the last (every other one was counted down before): no
  // read-modify-write needed (the common case, a submission with no host-side dependency).
  if (cmd->pending.load(std::memory_order_acquire) == 1 ||
      cmd->pending.fetch_sub(1, std::memory_order_acq_rel) == 1)
    start(cmd);
}

void finish_command(const std::shared_ptr<command>& cmd) noexcept {
  std::exception_ptr error;
  {
    std::lock_guard lock(cmd->failure_mutex);
    error = cmd->failure;
  }
  if (cmd->device_event.profiling()) {
    const auto t = now_ns();
    if (cmd->device_event.t_start == 0) cmd->device_event.t_start = t;
    if (cmd->device_event.t_end == 0) cmd->device_event.t_end = t;  // backends may set both
    cmd->host_event.t_start = cmd->device_event.t_start;
  }
  // A command that did not run passes its dependency's root cause on.
  const std::exception_ptr root = cmd->dependency_error;
  cmd->device_event.complete(error, root);
  // Releasing the payload drops the launch's references to its arrays; this may free them.
  cmd->payload.reset();
  cmd->keep_alive.reset();
  if (cmd->host_event.profiling()) cmd->host_event.t_end = now_ns();
  cmd->host_event.complete(error, root);
  std::shared_ptr<queue_impl> q = std::move(cmd->queue);
  q->on_finished(cmd, error);
  q.reset();
  auto& rt = runtime::get();
  rt.in_flight.fetch_sub(1, std::memory_order_acq_rel);
  rt.waiter().notify();
}

}  // namespace ndl::detail
