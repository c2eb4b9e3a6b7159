// The one submission path of every launch.
#include <string>

#include "core/command.hpp"
#include "core/queue_impl.hpp"
#include "ndl/detail/launch_record.hpp"
#include "ndl/error.hpp"
#include "ndl/nd_range.hpp"

namespace ndl::detail {

namespace {

std::string space_string(const index_space& s) {
  auto dims = [&](const size_t* e) {
    std::string out = "{";
    for (int d = 0; d < s.dims; ++d)
      out += (d ? ", " : "") + std::to_string(e[d]);
    return out + "}";
  };
  if (!s.is_nd) return "range " + dims(s.global);
  return "nd_range " + dims(s.global) + " / " + dims(s.local);
}

std::string kernel_name(const kernel_record& r) {
  if (r.name) return r.name;
  return r.kernel_type ? demangle(*r.kernel_type) : "?";
}

void validate(const queue_impl& q, const kernel_record& r) {
  const index_space& s = r.space;
  if (s.dims < 1 || s.dims > 3)
    throw_error(errc::invalid_range, "kernel '" + kernel_name(r) +
                                         "': an index space has 1, 2 or 3 dimensions, not " +
                                         std::to_string(s.dims));
  if (!r.cpu_entry && !r.cuda_entry)
    throw_error(errc::invalid_argument, "kernel '" + kernel_name(r) + "' has no entry point");
  // 64-bit overflow of the total number of work-items.
  size_t total = 1;
  for (int d = 0; d < s.dims; ++d) {
    if (s.global[d] != 0 && total > static_cast<size_t>(-1) / s.global[d])
      throw_error(errc::invalid_range, "kernel '" + kernel_name(r) + "': " + space_string(s) +
                                           " has more than 2^64 work-items");
    total *= s.global[d];
  }
  if (s.is_nd) {
    validate_nd_range(s.dims, s.global, s.local);
    const size_t group = s.group_size();
    const size_t limit = q.device().info.max_work_group_size;
    if (group > limit)
      throw_error(errc::invalid_range,
                  "kernel '" + kernel_name(r) + "': work-group of " + std::to_string(group) +
                      " work-items (" + space_string(s) + ") exceeds the maximum " +
                      std::to_string(limit) + " of device " + q.device().filter);
    // Per-dimension limits, counted from the last (fastest) dimension (CUDA x, y, z).
    for (int k = 0; k < s.dims; ++k) {
      const int d = s.dims - 1 - k;
      const size_t dim_limit = q.device().info.max_local_range[k];
      if (s.local[d] > dim_limit)
        throw_error(errc::invalid_range,
                    "kernel '" + kernel_name(r) + "': local range " + std::to_string(s.local[d]) +
                        " in dimension " + std::to_string(d) + " (" + space_string(s) +
                        ") exceeds the maximum " + std::to_string(dim_limit) + " of device " +
                        q.device().filter + " in that dimension");
    }
  }
  if (r.local_bytes > q.device().info.local_memory_bytes)
    throw_error(errc::invalid_argument,
                "kernel '" + kernel_name(r) + "' asks for " + std::to_string(r.local_bytes) +
                    " bytes of local memory per work-group; device " + q.device().filter + " has " +
                    std::to_string(q.device().info.local_memory_bytes));
  if (q.device().backend_type == backend_kind::cuda && !r.cuda_entry)
    throw_error(errc::unsupported,
                "kernel '" + kernel_name(r) +
                    (r.cpu_only ? "' runs on CPU devices only (it is marked ndl::cpu_only or is a "
                                  "plain function), not on " +
                                      q.device().filter
                                : std::string("' was not compiled for CUDA devices: compile the "
                                              "file that launches it with the CUDA compiler "
                                              "(ndl_add_cuda_sources in CMake)")));
  if (q.device().backend_type == backend_kind::cpu && !r.cpu_entry)
    throw_error(errc::unsupported,
                "kernel '" + kernel_name(r) + "' has no entry point for the CPU device");
}

std::shared_ptr<command> make_launch(const std::shared_ptr<queue_impl>& q, const kernel_record& r) {
  validate(*q, r);
  auto cmd = q->make_command(command_kind::kernel, q);
  cmd->record = r;
  return cmd;
}

}  // namespace

void validate_nd_range(int dims, const size_t* global, const size_t* local) {
  auto str = [dims](const size_t* e) {
    std::string out = "{";
    for (int d = 0; d < dims; ++d)
      out += (d ? ", " : "") + std::to_string(e[d]);
    return out + "}";
  };
  for (int d = 0; d < dims; ++d) {
    if (local[d] == 0)
      throw_error(errc::invalid_range, "nd_range: local range " + str(local) +
                                           " has a zero extent in dimension " + std::to_string(d) +
                                           " (global range " + str(global) + ")");
    if (global[d] % local[d] != 0)
      throw_error(errc::invalid_range,
                  "nd_range: local range " + str(local) + " does not divide global range " +
                      str(global) + " in dimension " + std::to_string(d) + " (" +
                      std::to_string(global[d]) + " % " + std::to_string(local[d]) + " = " +
                      std::to_string(global[d] % local[d]) + ")");
  }
}

void throw_local_with_range(const std::type_info& kernel, const char* name,
                            const index_space& space) {
  throw_error(errc::invalid_argument, "kernel '" + (name ? std::string(name) : demangle(kernel)) +
                                          "' takes a local_accessor, which needs an nd_range "
                                          "launch, but was launched over " +
                                          space_string(space));
}

void throw_empty_array_argument(int position, const std::type_info& type) {
  throw_error(errc::invalid_argument,
              "kernel argument " + std::to_string(position) + " (" + demangle(type) +
                  ") is a default-constructed array: it has no memory and no queue");
}

void throw_empty_local_accessor() {
  throw_error(errc::invalid_argument, "a local_accessor must have at least one element");
}

void submit_sync(const std::shared_ptr<queue_impl>& q, const kernel_record& record) {
  auto cmd = make_launch(q, record);
  cmd->run_inline = true;
  q->submit(cmd, {});
  // The payload lives on the caller's stack: wait for the device event before returning.
  cmd->device_event.wait();
}

launch_events submit_async(const std::shared_ptr<queue_impl>& q, const kernel_record& record,
                           std::unique_ptr<owned_payload> payload, event_list deps) {
  auto cmd = make_launch(q, record);
  cmd->payload = std::move(payload);
  q->submit(cmd, deps);
  // The events alias the command; the last one takes over this function's reference.
  event device_event(std::shared_ptr<event_state>(cmd, &cmd->device_event));
  event_state* host = &cmd->host_event;
  return {event(std::shared_ptr<event_state>(std::move(cmd), host)), std::move(device_event)};
}

std::shared_ptr<queue_impl> infer_queue(const std::type_info& kernel, const char* name,
                                        const arg_placement* args, size_t count) {
  if (count == 0) {
    auto& rt = runtime::get();
    return rt.default_queue(rt.default_device());
  }
  queue_impl* q = args[0].queue;
  bool same = true;
  for (size_t i = 1; i < count; ++i)
    same = same && args[i].queue == q;
  if (same) {
    // The arrays own the queue; borrow a shared reference from the first one's block.
    return q->shared_from_this();
  }
  std::string msg = "cannot infer the queue of kernel '" +
                    (name ? std::string(name) : demangle(kernel)) +
                    "': its array arguments are on different queues:";
  for (size_t i = 0; i < count; ++i)
    msg += "\n  argument " + std::to_string(args[i].position) + " (" + demangle(*args[i].type) +
           ") is on " + args[i].queue->describe();
  msg += "\nput them on one queue, or pass the queue explicitly as the first argument";
  throw_error(errc::queue_inference, msg);
}

void check_arg_devices(const std::shared_ptr<queue_impl>& q, const std::type_info& kernel,
                       const char* name, const arg_placement* args, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (&args[i].queue->device() == &q->device()) continue;
    throw_error(errc::invalid_argument, "kernel '" + (name ? std::string(name) : demangle(kernel)) +
                                            "': argument " + std::to_string(args[i].position) +
                                            " (" + demangle(*args[i].type) + ") lives on " +
                                            args[i].queue->device().filter +
                                            " but the launch queue is on " + q->device().filter);
  }
}

}  // namespace ndl::detail
