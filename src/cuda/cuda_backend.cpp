#include "cuda/cuda_backend.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/command.hpp"
#include "core/queue_impl.hpp"
#include "core/runtime.hpp"
#include "cuda/cuda_queue.hpp"
#include "ndl/error.hpp"

namespace ndl::cuda {

namespace {

void release_markers(detail::command& cmd) noexcept {
  auto* dev = static_cast<cuda_device*>(cmd.marker_owner);
  const bool timed = cmd.device_start_marker != nullptr;
  if (cmd.device_marker) {
    auto e = static_cast<cudaEvent_t>(cmd.device_marker);
    (timed ? dev->timed_events : dev->events).release(e);
  }
  if (timed) dev->timed_events.release(static_cast<cudaEvent_t>(cmd.device_start_marker));
}

}  // namespace

// --- cuda_device -----------------------------------------------------------------------------

cuda_device::cuda_device(int ord, wait_mode mode)
    : ordinal(ord),
      filter("cuda:" + std::to_string(ord)),
      events(*this, false, mode == wait_mode::block),
      timed_events(*this, true, mode == wait_mode::block),
      mode_(mode) {
  NDL_CUDA_CHECK(*this, cudaGetDeviceProperties(&props, ord));
}

cuda_device::~cuda_device() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  if (ref_event_) (void)cudaEventDestroy(ref_event_);
#if NDL_CHECKED
  if (check_host_) (void)cudaFreeHost(check_host_);
  if (check_claims_) (void)cudaFree(check_claims_);
#endif
}

#if NDL_CHECKED
detail::check_context cuda_device::check_launch(detail::command& cmd) {
  std::call_once(check_once_, [&] {
    // Allocated with the first checked launch (the device is current); freed with the device.
    void* host = nullptr;
    NDL_CUDA_CHECK(*this, cudaHostAlloc(&host, check_slots * sizeof(detail::check_slot),
                                        cudaHostAllocMapped | cudaHostAllocPortable));
    std::memset(host, 0, check_slots * sizeof(detail::check_slot));
    void* device_view = nullptr;
    void* claims = nullptr;
    try {
      NDL_CUDA_CHECK(*this, cudaHostGetDevicePointer(&device_view, host, 0));
      NDL_CUDA_CHECK(*this, cudaMalloc(&claims, check_slots * sizeof(unsigned long long)));
      NDL_CUDA_CHECK(*this, cudaMemset(claims, 0, check_slots * sizeof(unsigned long long)));
    } catch (...) {
      (void)cudaFreeHost(host);
      if (claims) (void)cudaFree(claims);
      throw;
    }
    check_host_ = static_cast<detail::check_slot*>(host);
    check_device_ = static_cast<detail::check_slot*>(device_view);
    check_claims_ = static_cast<unsigned long long*>(claims);
  });
  // A slot is reused check_slots launches later: by then its launch has finished (unless
  // more than check_slots launches are in flight on this device at once).
  const unsigned long long tag = check_next_tag_.fetch_add(1, std::memory_order_relaxed);
  cmd.check_tag = tag;
  detail::check_context c{};
  c.magic = detail::check_magic;
  c.claim = check_claims_ + tag % check_slots;
  c.slot = check_device_ + tag % check_slots;
  c.tag = tag;
  return c;
}

void cuda_device::check_finished(detail::command& cmd) noexcept {
  if (cmd.kind != detail::command_kind::kernel || cmd.check_tag == 0 || !check_host_) return;
  // The kernel has finished (its event or stream completed), so its writes to host-mapped
  // memory are visible; read through volatile all the same, the memory is written by the GPU.
  const volatile detail::check_slot& s = check_host_[cmd.check_tag % check_slots];
  if (s.tag != cmd.check_tag) return;
  const int rank = s.rank < 1 ? 1 : (s.rank > 3 ? 3 : s.rank);
  size_t index[3], extent[3];
  detail::cpu_failure f;
  for (int d = 0; d < 3; ++d) {
    index[d] = s.index[d];
    extent[d] = s.extent[d];
    f.id[d] = s.item[d];
  }
  const int arg = s.arg;
  const std::type_info* type = detail::argument_type(cmd.record, arg);
  try {
    f.error = std::make_exception_ptr(
        error(errc::kernel_failure, detail::out_of_bounds_message(arg, type, rank, index, extent)));
    cmd.fail(detail::kernel_error(cmd, f));
  } catch (...) {
    cmd.fail(std::current_exception());  // out of memory building the message
  }
}
#endif

void cuda_device::make_current() const {
  int cur = -1;
  // cudaGetDevice reads a thread-local: cheaper than setting it every time, and correct even
  // when user code switched devices in between.
  if (cudaGetDevice(&cur) != cudaSuccess || cur != ordinal)
    NDL_CUDA_CHECK(*this, cudaSetDevice(ordinal));
}

void cuda_device::start_completer() {
  // The reference point of profiling timestamps: a timed event and the host clock after it.
  make_current();
  NDL_CUDA_CHECK(*this, cudaEventCreate(&ref_event_));
  NDL_CUDA_CHECK(*this, cudaEventRecord(ref_event_, nullptr));
  NDL_CUDA_CHECK(*this, cudaEventSynchronize(ref_event_));
  ref_ns_ = detail::now_ns();
  completer_ = std::thread([this] { complete_loop(); });
}

void cuda_device::push_pending(std::shared_ptr<detail::command> cmd) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      start_completer();
      started_ = true;
    }
    pending_.push_back(std::move(cmd));
    // Relaxed: only a hint for the spinning completion thread, which then takes the lock.
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
    wake = sleeping_;
  }
  // The completion thread sleeps only after spinning on an empty list for a while: launches
  // in quick succession find it awake and pay no wake-up (a system call).
  if (wake) cv_.notify_one();
}

std::uint64_t cuda_device::host_time_of(cudaEvent_t e) const {
  float ms = 0;
  if (cudaEventElapsedTime(&ms, ref_event_, e) != cudaSuccess) return detail::now_ns();
  return ref_ns_ + static_cast<std::uint64_t>(static_cast<double>(ms) * 1e6);
}

// Finishes enqueued commands in the order they were enqueued: waits on each one's event,
// records its failure or its timestamps, then completes its events and releases what it kept
// alive. No host callback runs inside the streams, and the submitting threads never query.
void cuda_device::complete_loop() {
  (void)cudaSetDevice(ordinal);
  for (;;) {
    // Spin a little (about 50 us) before sleeping: the next launch usually comes soon.
    for (int i = 0; i < 20000 && pending_count_.load(std::memory_order_relaxed) == 0; ++i)
      detail::progress::pause();
    std::shared_ptr<detail::command> cmd;
    {
      std::unique_lock lock(mutex_);
      if (!stop_ && pending_.empty()) {
        sleeping_ = true;
        cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
        sleeping_ = false;
      }
      if (pending_.empty()) return;
      cmd = pending_.front();
    }
    const auto marker = static_cast<cudaEvent_t>(cmd->device_marker);
    const cudaError_t e = wait_for(marker);
    if (e != cudaSuccess) {
      cmd->fail(cuda_error(e, ("running " + cmd->describe()).c_str(), filter.c_str(), &health));
    } else if (cmd->device_start_marker) {
      // GPU times mapped onto the host clock through a reference event: durations are the
      // GPU's own, but the clocks drift apart by a few microseconds per second, so keep the
      // mapped start from preceding the submission.
      const std::uint64_t start = host_time_of(static_cast<cudaEvent_t>(cmd->device_start_marker));
      const std::uint64_t end = host_time_of(marker);
      const std::uint64_t shift =
          start < cmd->device_event.t_submit ? cmd->device_event.t_submit - start : 0;
      std::uint64_t t_start = start + shift;
      std::uint64_t t_end = (end > start ? end : start) + shift;
      // ...nor the mapped end from following the moment the completion was seen.
      const std::uint64_t now = detail::now_ns();
      if (t_end > now) {
        const std::uint64_t late = t_end - now;
        const std::uint64_t room = t_start - cmd->device_event.t_submit;
        t_start -= late < room ? late : room;
        t_end = now;
      }
      cmd->device_event.t_start = t_start;
      cmd->device_event.t_end = t_end;
    }
#if NDL_CHECKED
    if (e == cudaSuccess) check_finished(*cmd);
#endif
    // A dependency ordered on the device that failed there (another device lost) fails this
    // command too: it ran on data that was never written.
    for (const auto& dep : cmd->device_waits) {
      if (dep->is_complete() && dep->error()) {
        std::lock_guard lock(cmd->failure_mutex);
        if (!cmd->dependency_error) cmd->dependency_error = dep->root_error();
        if (!cmd->failure)
          cmd->failure = std::make_exception_ptr(
              error(errc::dependency_failed,
                    cmd->describe() + " ran after a command it depends on failed on the device"));
      }
    }
    cmd->device_waits.clear();
    {
      std::lock_guard lock(mutex_);
      pending_.pop_front();
      pending_count_.store(pending_.size(), std::memory_order_relaxed);
    }
    detail::finish_command(cmd);
  }
}

cudaError_t cuda_device::wait_for(cudaEvent_t e) const {
  if (mode_ != wait_mode::poll) return cudaEventSynchronize(e);
  // Query, then pause a little longer each time (up to ~10 us): the driver is entered a few
  // times per command instead of continuously, leaving it to the threads that launch.
  int pauses = 16;
  for (;;) {
    const cudaError_t q = cudaEventQuery(e);
    if (q != cudaErrorNotReady) return q;
    for (int i = 0; i < pauses; ++i)
      detail::progress::pause();
    if (pauses < 4096) pauses *= 2;
  }
}

// --- cuda_backend ----------------------------------------------------------------------------

namespace {
// How the completion thread waits for the GPU: "block" (the default: it sleeps until the
// driver wakes it), "spin" (in cudaEventSynchronize) or "poll" (queries with growing
// pauses). Measured on an H100 (benchmarks/cuda_launch.cu): a thread spinning on events
// slows the threads that launch by about 1.5 us a launch, so blocking gave the lowest launch
// host time and round trip of the three.
wait_mode wait_mode_from_env() {
  const char* env = std::getenv("NDL_CUDA_WAIT");
  if (!env || !*env || std::string_view(env) == "block") return wait_mode::block;
  if (std::string_view(env) == "spin") return wait_mode::spin;
  if (std::string_view(env) == "poll") return wait_mode::poll;
  detail::throw_error(errc::invalid_argument, "NDL_CUDA_WAIT='" + std::string(env) +
                                                  "' is not one of 'spin', 'poll', 'block'");
}
}  // namespace

cuda_backend::cuda_backend() {
  const wait_mode mode = wait_mode_from_env();
  int count = 0;
  // No driver or no GPU: no devices, not an error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  for (int i = 0; i < count; ++i)
    devices_.push_back(std::make_unique<cuda_device>(i, mode));
}

cuda_backend::~cuda_backend() = default;

std::vector<detail::device_info> cuda_backend::devices() {
  std::vector<detail::device_info> out;
  for (const auto& d : devices_) {
    detail::device_info info;
    info.name = d->props.name;
    info.kind = device_kind::gpu;
    info.compute_units = static_cast<unsigned>(d->props.multiProcessorCount);
    info.max_work_group_size = static_cast<size_t>(d->props.maxThreadsPerBlock);
    info.local_memory_bytes = d->props.sharedMemPerBlockOptin;
#if NDL_CHECKED
    // Each block of a checked build keeps its check context after its local memory.
    info.local_memory_bytes -= detail::check_shared_bytes;
#endif
    for (int a = 0; a < 3; ++a)
      info.max_local_range[a] = static_cast<size_t>(d->props.maxThreadsDim[a]);
    out.push_back(std::move(info));
  }
  return out;
}

std::shared_ptr<void> cuda_backend::make_queue_state(int ordinal, bool in_order) {
  return std::make_shared<cuda_queue>(*devices_[static_cast<size_t>(ordinal)], in_order);
}

void cuda_backend::enqueue(detail::command& cmd, cuda_device& dev, cudaStream_t stream) {
  using detail::command_kind;
  switch (cmd.kind) {
    case command_kind::kernel: {
      if (cmd.record.space.work_items() == 0) break;
      detail::cuda_launch launch;
      launch.stream = stream;
      launch.local_bytes = cmd.record.local_bytes;
#if NDL_CHECKED
      launch.check = dev.check_launch(cmd);
#endif
      const auto e = static_cast<cudaError_t>(
          cmd.record.cuda_entry(cmd.record.payload, cmd.record.space, launch));
      if (e != cudaSuccess)
        std::rethrow_exception(cuda_error(e, ("launching " + cmd.describe()).c_str(),
                                          dev.filter.c_str(), &dev.health));
      break;
    }
    case command_kind::copy:
      if (cmd.bytes != 0)
        NDL_CUDA_CHECK(dev,
                       cudaMemcpyAsync(cmd.dst, cmd.src, cmd.bytes, cudaMemcpyDefault, stream));
      break;
    case command_kind::fill: {
      if (cmd.bytes == 0) break;
      cudaPointerAttributes attr{};
      if (cudaPointerGetAttributes(&attr, cmd.dst) == cudaSuccess &&
          attr.type == cudaMemoryTypeUnregistered) {
        // Plain host memory, which no kernel may write: fill it here once the stream has
        // reached this point (the queue's order holds; the fill is synchronous).
        NDL_CUDA_CHECK(dev, cudaStreamSynchronize(stream));
        auto* out = static_cast<unsigned char*>(cmd.dst);
        for (size_t i = 0; i < cmd.bytes; ++i)
          std::memcpy(out + i * cmd.pattern_size, cmd.pattern, cmd.pattern_size);
        break;
      }
      (void)cudaGetLastError();  // a failed query leaves no error behind
      if (cmd.pattern_size > max_fill_pattern) {
        // Large elements: copy the first one, then double the filled prefix each time.
        auto* out = static_cast<unsigned char*>(cmd.dst);
        NDL_CUDA_CHECK(
            dev, cudaMemcpyAsync(out, cmd.pattern, cmd.pattern_size, cudaMemcpyDefault, stream));
        for (size_t done = 1; done < cmd.bytes;) {
          const size_t n = done < cmd.bytes - done ? done : cmd.bytes - done;
          NDL_CUDA_CHECK(dev, cudaMemcpyAsync(out + done * cmd.pattern_size, out,
                                              n * cmd.pattern_size, cudaMemcpyDefault, stream));
          done += n;
        }
        break;
      }
      NDL_CUDA_CHECK(dev, launch_fill(cmd.dst, cmd.pattern, cmd.pattern_size, cmd.bytes, stream));
      break;
    }
    case command_kind::strided_read:
    case command_kind::strided_write: {
      const bool read = cmd.kind == command_kind::strided_read;
      size_t total = 1;
      for (int d = 0; d < cmd.dims; ++d)
        total *= cmd.shape[d];
      const size_t bytes = total * cmd.elem_size;
      if (bytes == 0) break;
      void* strided = read ? const_cast<void*>(cmd.src) : cmd.dst;
      void* host = read ? cmd.dst : const_cast<void*>(cmd.src);
      // (Contiguous arrays arrive as plain copies.) Gather into (or scatter from) a packed buffer
      // on the device, copied from/to the host.
      void* packed = nullptr;
      NDL_CUDA_CHECK(dev, cudaMallocAsync(&packed, bytes, stream));
      if (!read)
        NDL_CUDA_CHECK(dev, cudaMemcpyAsync(packed, host, bytes, cudaMemcpyDefault, stream));
      NDL_CUDA_CHECK(dev, launch_strided_copy(strided, packed, read, cmd.elem_size, cmd.dims,
                                              cmd.shape, cmd.strides, stream));
      if (read)
        NDL_CUDA_CHECK(dev, cudaMemcpyAsync(host, packed, bytes, cudaMemcpyDefault, stream));
      NDL_CUDA_CHECK(dev, cudaFreeAsync(packed, stream));
      break;
    }
  }
}

void cuda_backend::execute(std::shared_ptr<detail::command> cmd) {
  const auto& dimpl = cmd->queue->device();
  cuda_device& dev = *devices_[static_cast<size_t>(dimpl.ordinal)];
  auto& q = *static_cast<cuda_queue*>(cmd->queue->backend_state());
  if (cmd->cancelled.load(std::memory_order_relaxed)) {
    // A dependency failed: nothing runs (finish_command reports why).
    detail::finish_command(cmd);
    return;
  }
  try {
    dev.health.check(dev.filter.c_str());
    dev.make_current();
    cmd->device_event.mark_running();
    const cudaStream_t stream = q.pick(*cmd);
    for (const auto& dep : cmd->device_waits) {
      const detail::command& d = *dep->owner;
      if (d.device_stream == stream) continue;  // the stream orders them
      if (d.device_marker)
        NDL_CUDA_CHECK(dev,
                       cudaStreamWaitEvent(stream, static_cast<cudaEvent_t>(d.device_marker), 0));
      else
        NDL_CUDA_CHECK(dev, cudaStreamSynchronize(static_cast<cudaStream_t>(d.device_stream)));
    }
    if (cmd->run_inline) {
      // A synchronous launch: its caller blocks on it, so wait for the stream right here
      // (no event, no completion thread), then let the commands it was ordered after finish
      // first so that events complete in queue order.
      enqueue(*cmd, dev, stream);
      NDL_CUDA_CHECK(dev, cudaStreamSynchronize(stream));
#if NDL_CHECKED
      dev.check_finished(*cmd);
#endif
      if (!cmd->device_waits.empty()) {
        detail::runtime::get().waiter().wait_until([&] {
          for (const auto& dep : cmd->device_waits)
            if (!dep->is_complete()) return false;
          return true;
        });
        cmd->device_waits.clear();
      }
      detail::finish_command(cmd);
      return;
    }
    const bool timed = cmd->device_event.profiling();
    cmd->marker_owner = &dev;
    cmd->release_marker = &release_markers;
    if (timed) {
      cmd->device_start_marker = dev.timed_events.acquire();
      NDL_CUDA_CHECK(dev,
                     cudaEventRecord(static_cast<cudaEvent_t>(cmd->device_start_marker), stream));
    }
    enqueue(*cmd, dev, stream);
    cudaEvent_t marker = (timed ? dev.timed_events : dev.events).acquire();
    cmd->device_marker = marker;
    NDL_CUDA_CHECK(dev, cudaEventRecord(marker, stream));
    cmd->device_stream = stream;
    cmd->enqueued_by = this;
    // Release pairs with the acquire load in queue_impl::add_dependency.
    cmd->enqueued.store(true, std::memory_order_release);
    dev.push_pending(std::move(cmd));
  } catch (...) {
    cmd->fail(std::current_exception());
    detail::finish_command(cmd);
  }
}

}  // namespace ndl::cuda

namespace ndl::detail {
std::unique_ptr<backend> make_cuda_backend() {
  return std::make_unique<cuda::cuda_backend>();
}
}  // namespace ndl::detail
