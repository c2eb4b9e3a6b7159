#include "cuda/cuda_backend.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/command.hpp"
#include "core/queue_impl.hpp"
#include "core/runtime.hpp"
#include "cuda/cuda_queue.hpp"
#include "ndl/error.hpp"

namespace ndl::cuda {

namespace {

// When the completion thread covers a stream's unmarked commands with a marker (ADR 0008):
// once the stream has had no new command for quiet_ns (the launching thread paused: seen as an
// unchanged count of commands between two of its looks, so launches read no clock), once it
// has seen them waiting for max_delay_ns, or once mark_batch are waiting. Any work the completion
// thread does while another thread launches slows that thread (driver calls, and finishing
// commands: freeing what the launcher allocated, touching the queue's counters), by 0.5 to
// 1.5 us a launch on an H100 with a marker every 32 commands; so during a burst it waits. A
// thread that waits for a command marks it itself, and an allocation that fails first lets
// finished commands release their arguments (ndl::malloc).
constexpr size_t mark_batch = 1024;
constexpr std::uint64_t quiet_ns = 20'000;
constexpr std::uint64_t max_delay_ns = 2'000'000;
// How often the completion thread polls markers when nothing completed: from lazy_min_ns to
// lazy_max_ns asleep when nobody waits; when a thread waits, spinning from eager_min_ns to
// eager_max_ns, and after eager_spin_ns without a completion asleep for lazy_min_ns (long
// kernels: no core burnt, ~0.1 ms of latency added at most).
constexpr std::uint64_t lazy_min_ns = 50'000;
constexpr std::uint64_t lazy_max_ns = 500'000;
constexpr std::uint64_t eager_min_ns = 250;
constexpr std::uint64_t eager_max_ns = 16'000;
constexpr std::uint64_t eager_spin_ns = 2'000'000;

void release_markers(detail::command& cmd) noexcept {
  auto* dev = static_cast<cuda_device*>(cmd.marker_owner);
  if (cmd.device_marker) dev->timed_events.release(static_cast<cudaEvent_t>(cmd.device_marker));
  if (cmd.device_start_marker)
    dev->timed_events.release(static_cast<cudaEvent_t>(cmd.device_start_marker));
}

void flush_command(detail::command& cmd) noexcept {
  static_cast<cuda_device*>(cmd.marker_owner)->flush(cmd);
}

}  // namespace

// --- cuda_device -----------------------------------------------------------------------------

cuda_device::cuda_device(int ord)
    : ordinal(ord),
      filter("cuda:" + std::to_string(ord)),
      events(*this, false),
      timed_events(*this, true) {
  NDL_CUDA_CHECK(*this, cudaGetDeviceProperties(&props, ord));
}

cuda_device::~cuda_device() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  // At exit: errors (a lost device, CUDA already unloaded) are ignored.
  for (const auto& t : tracks_)
    (void)cudaStreamDestroy(t->stream);
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

stream_track* cuda_device::take_track() {
  {
    std::lock_guard lock(mutex_);
    if (!free_tracks_.empty()) {
      stream_track* t = free_tracks_.back();
      free_tracks_.pop_back();
      return t;
    }
  }
  auto t = std::make_unique<stream_track>();
  make_current();
  // Non-blocking: no implicit ordering with the legacy default stream of other code.
  NDL_CUDA_CHECK(*this, cudaStreamCreateWithFlags(&t->stream, cudaStreamNonBlocking));
  try {
    std::lock_guard lock(mutex_);
    // give_track() and push() never allocate for these lists: room for every track.
    free_tracks_.reserve(tracks_.size() + 1);
    active_.reserve(tracks_.size() + 1);
    tracks_.push_back(std::move(t));
    return tracks_.back().get();
  } catch (...) {
    if (t) (void)cudaStreamDestroy(t->stream);
    throw;
  }
}

void cuda_device::give_track(stream_track* t) noexcept {
  std::lock_guard lock(mutex_);
  free_tracks_.push_back(t);
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

void cuda_device::push(stream_track& t, const std::shared_ptr<detail::command>& cmd,
                       cudaEvent_t end) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      start_completer();
      started_ = true;
    }
    const bool was_idle = t.cmds.empty();  // then not listed in active_
    if (end) {
      // Recorded after the command and after every unmarked one before it.
      t.markers.push_back({end, t.unmarked + 1, next_marker_seq_++, false, cudaSuccess});
      try {
        t.cmds.push_back(cmd);
      } catch (...) {
        t.markers.pop_back();
        throw;
      }
      t.unmarked = 0;
    } else {
      t.cmds.push_back(cmd);
      ++t.unmarked;
    }
    cmd->device_seq = t.pushed++;
    if (was_idle) active_.push_back(&t);  // capacity reserved by take_track()
    wake = idle_;
  }
  // The completion thread sleeps without a timeout only when no command is in flight: the
  // first command after a pause wakes it; the others find it awake and wake nobody.
  if (wake) cv_.notify_one();
}

void cuda_device::mark(stream_track& t) noexcept {
  std::lock_guard mark_lock(t.mark_mutex);
  size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    n = t.unmarked;
  }
  if (n == 0) return;
  // Every command counted in `n` was enqueued before this record: the marker covers them.
  cudaEvent_t e = nullptr;
  cudaError_t error = cudaSuccess;
  try {
    e = events.acquire();
    error = cudaEventRecord(e, t.stream);
  } catch (...) {
    error = cudaErrorMemoryAllocation;  // no event could be made: fail what it would cover
  }
  if (error != cudaSuccess && e) {
    events.release(e);
    e = nullptr;
  }
  std::lock_guard lock(mutex_);
  // No allocation can fail here without losing commands: markers is a deque that grows by
  // blocks; if it cannot, the commands stay unmarked and the next mark() covers them.
  try {
    t.markers.push_back({e, n, next_marker_seq_++, true, error});
    t.unmarked -= n;
  } catch (...) {
    if (e) events.release(e);
  }
}

void cuda_device::flush(detail::command& cmd) noexcept {
  auto& t = *static_cast<stream_track*>(cmd.device_track);
  bool unmarked = false;
  {
    std::lock_guard lock(mutex_);
    if (cmd.device_seq < t.retired) return;  // already taken for finishing
    unmarked = cmd.device_seq >= t.pushed - t.unmarked;
  }
  hurry(t, unmarked);
}

void cuda_device::flush_track(stream_track& t) noexcept {
  bool unmarked = false;
  {
    std::lock_guard lock(mutex_);
    if (t.cmds.empty()) return;
    unmarked = t.unmarked != 0;
  }
  hurry(t, unmarked);
}

void cuda_device::hurry(stream_track& t, bool unmarked) noexcept {
  if (unmarked) mark(t);  // here: this thread is not launching, so this slows nobody
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (!t.markers.empty() && t.markers.back().seq > t.hurry_until)
      t.hurry_until = t.markers.back().seq;
    wake_.fetch_add(1, std::memory_order_relaxed);
    wake = sleeping_;
  }
  if (wake) cv_.notify_one();
}

void cuda_device::flush_all() noexcept {
  std::vector<stream_track*> tracks;
  {
    std::lock_guard lock(mutex_);
    if (active_.empty()) return;
    try {
      tracks = active_;
    } catch (...) {
      return;  // out of memory: the completion thread still marks them within max_delay_ns
    }
  }
  for (stream_track* t : tracks)
    flush_track(*t);
}

void cuda_device::take_front(stream_track& t, size_t n,
                             std::vector<std::shared_ptr<detail::command>>& out,
                             std::vector<cudaEvent_t>& events_out) {
  size_t left = n;
  while (left != 0 && !t.markers.empty()) {
    stream_track::marker& m = t.markers.front();
    if (m.count > left) {
      m.count -= left;  // retire_through(): part of a marker's commands
      left = 0;
      break;
    }
    left -= m.count;
    if (m.owned && m.event) events_out.push_back(m.event);
    if (m.seq >= t.hurry_until) t.hurry_until = 0;
    t.markers.pop_front();
  }
  t.unmarked -= left;  // the rest were not marked yet
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(t.cmds.front()));
    t.cmds.pop_front();
  }
  t.retired += n;
  if (t.cmds.empty()) {  // no longer active
    t.hurry_until = 0;
    t.unmarked_seen_ns = 0;
    for (size_t i = 0; i < active_.size(); ++i)
      if (active_[i] == &t) {
        active_[i] = active_.back();
        active_.pop_back();
        break;
      }
  }
}

bool cuda_device::retire(stream_track& t, std::uint64_t seq, cudaError_t status) {
  std::vector<std::shared_ptr<detail::command>> done;
  std::vector<cudaEvent_t> evs;
  {
    std::lock_guard lock(mutex_);
    if (t.markers.empty() || t.markers.front().seq != seq) return false;
    // Another thread is still finishing earlier commands of this stream: later, in order.
    if (t.finished.load(std::memory_order_acquire) != t.retired) return false;
    try {
      done.reserve(t.markers.front().count);
      evs.reserve(1);
    } catch (...) {
      return false;  // out of memory: try again on the next poll
    }
    take_front(t, t.markers.front().count, done, evs);
  }
  for (cudaEvent_t e : evs)
    events.release(e);
  complete_taken(t, done, status);
  return true;
}

void cuda_device::retire_through(stream_track& t, std::uint64_t seq) noexcept {
  std::vector<std::shared_ptr<detail::command>> done;
  std::vector<cudaEvent_t> evs;
  for (;;) {
    std::uint64_t wait_for = 0;
    try {
      // Not while mark() has counted unmarked commands and not yet covered them: taking some
      // of those would leave its marker covering more commands than there are.
      std::lock_guard mark_lock(t.mark_mutex);
      std::lock_guard lock(mutex_);
      const std::uint64_t finished = t.finished.load(std::memory_order_acquire);
      if (finished >= seq) return;  // all of them finished already
      if (finished == t.retired) {
        const size_t n = static_cast<size_t>(seq - t.retired);
        done.reserve(n);
        evs.reserve(t.markers.size());
        take_front(t, n < t.cmds.size() ? n : t.cmds.size(), done, evs);
        break;
      }
      // Another thread finishes commands up to t.retired: wait for those before `seq` (only
      // earlier commands: waiting for later ones could wait for this thread's own callers).
      wait_for = t.retired < seq ? t.retired : seq;
    } catch (...) {
      return;  // out of memory: the completion thread retires them
    }
    detail::runtime::get().waiter().wait_until(
        [&] { return t.finished.load(std::memory_order_acquire) >= wait_for; });
  }
  for (cudaEvent_t e : evs)
    events.release(e);
  complete_taken(t, done, cudaSuccess);
}

void cuda_device::complete_taken(stream_track& t,
                                 const std::vector<std::shared_ptr<detail::command>>& done,
                                 cudaError_t status) noexcept {
  for (const auto& cmd : done) {
    complete(cmd, status);
    // Release pairs with the acquire loads above; then wake threads waiting in
    // retire_through() (finish_command's own wake-up came before this count).
    t.finished.fetch_add(1, std::memory_order_release);
    detail::runtime::get().waiter().notify();
  }
}

std::uint64_t cuda_device::host_time_of(cudaEvent_t e) const {
  float ms = 0;
  if (cudaEventElapsedTime(&ms, ref_event_, e) != cudaSuccess) return detail::now_ns();
  return ref_ns_ + static_cast<std::uint64_t>(static_cast<double>(ms) * 1e6);
}

void cuda_device::complete(const std::shared_ptr<detail::command>& cmd,
                           cudaError_t status) noexcept {
  if (status != cudaSuccess) {
    try {
      cmd->fail(
          cuda_error(status, ("running " + cmd->describe()).c_str(), filter.c_str(), &health));
    } catch (...) {
      cmd->fail(std::current_exception());
    }
  } else if (cmd->device_start_marker) {
    // GPU times mapped onto the host clock through a reference event: durations are the
    // GPU's own, but the clocks drift apart by a few microseconds per second, so keep the
    // mapped start from preceding the submission.
    const std::uint64_t start = host_time_of(static_cast<cudaEvent_t>(cmd->device_start_marker));
    const std::uint64_t end = host_time_of(static_cast<cudaEvent_t>(cmd->device_marker));
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
  if (status == cudaSuccess) check_finished(*cmd);
#endif
  settle_dependencies(*cmd, status == cudaSuccess);
  // A dependency ordered on the device that failed there (another device lost) fails this
  // command too: it ran on data that was never written.
  for (const auto& dep : cmd->device_waits) {
    if (dep->is_complete() && dep->error()) {
      std::lock_guard lock(cmd->failure_mutex);
      if (!cmd->dependency_error) cmd->dependency_error = dep->root_error();
      if (!cmd->failure) {
        try {
          cmd->failure = std::make_exception_ptr(
              error(errc::dependency_failed,
                    cmd->describe() + " ran after a command it depends on failed on the device"));
        } catch (...) {
          cmd->failure = std::current_exception();
        }
      }
    }
  }
  cmd->device_waits.clear();
  detail::finish_command(cmd);
}

void cuda_device::settle_dependencies(detail::command& cmd, bool succeeded) noexcept {
  // The commands `cmd` was ordered after on the device have completed there. Those on this
  // device that are still listed on their streams (their marker not polled yet) succeeded if
  // `cmd` did (errors on a device are sticky): they are finished here, in order
  // (retire_through returns once they are). Those on other devices are left to their
  // completion thread, asked to hurry, and waited for. So a command never completes before
  // what it depends on, unless it failed: then nothing is waited for, since on this device
  // only this thread (the completion thread, or the one retiring) may be there to notice
  // the dependencies' own failure.
  bool other_devices = false;
  for (const auto& dep : cmd.device_waits) {
    if (dep->is_complete()) continue;
    const detail::command& d = *dep->owner;
    if (succeeded && d.marker_owner == this) {
      retire_through(*static_cast<stream_track*>(d.device_track), d.device_seq + 1);
    } else {
      detail::flush_completion(*dep);
      other_devices = other_devices || (succeeded && d.marker_owner != this);
    }
  }
  if (other_devices)
    detail::runtime::get().waiter().wait_until([&] {
      for (const auto& dep : cmd.device_waits)
        if (dep->owner->marker_owner != this && !dep->is_complete()) return false;
      return true;
    });
}

// Finishes enqueued commands in the order they were enqueued on each stream. Commands are
// covered by markers a few at a time (see mark_batch); the thread polls the oldest marker of
// each stream, rarely while nobody waits and eagerly while somebody does (flush), and sleeps
// while nothing is in flight. No host callback runs inside the streams, and the launching
// threads make no extra driver call per launch.
void cuda_device::complete_loop() {
  (void)cudaSetDevice(ordinal);
  struct poll {
    stream_track* track;
    cudaEvent_t event;
    std::uint64_t seq;
    cudaError_t error;
  };
  std::vector<stream_track*> to_mark;
  std::vector<poll> polls;
  std::uint64_t interval = 0;     // the last wait without a completion, 0 after one
  std::uint64_t eager_since = 0;  // when eager polling began or last made progress
  bool was_eager = false;
  for (;;) {
    bool eager = false;
    std::uint64_t mark_due = UINT64_MAX;
    std::uint32_t seen = 0;
    {
      std::unique_lock lock(mutex_);
      if (active_.empty()) {
        if (stop_) return;
        idle_ = sleeping_ = true;
        cv_.wait(lock, [&] { return stop_ || !active_.empty(); });
        idle_ = sleeping_ = false;
        if (active_.empty()) return;
        interval = 0;
      }
      seen = wake_.load(std::memory_order_relaxed);
      const std::uint64_t now = detail::now_ns();
      to_mark.clear();
      polls.clear();
      for (stream_track* t : active_) {
        if (t->hurry_until) eager = true;
        // Quiet: `pushed` unchanged since a look quiet_ns ago (no clock read per launch).
        if (t->pushed != t->seen_pushed) {
          t->seen_pushed = t->pushed;
          t->seen_change_ns = now;
        }
        if (!t->unmarked) {
          t->unmarked_seen_ns = 0;
        } else {
          if (t->unmarked_seen_ns == 0) t->unmarked_seen_ns = now;
          const std::uint64_t due =
              std::min(t->seen_change_ns + quiet_ns, t->unmarked_seen_ns + max_delay_ns);
          if (t->hurry_until || t->unmarked >= mark_batch || now >= due)
            to_mark.push_back(t);
          else
            mark_due = std::min(mark_due, due);
        }
        if (!t->markers.empty()) {
          const stream_track::marker& m = t->markers.front();
          polls.push_back({t, m.event, m.seq, m.error});
        }
      }
      if (eager && !was_eager) eager_since = now;  // somebody began to wait
      was_eager = eager;
    }
    for (stream_track* t : to_mark)
      mark(*t);
    bool progress = !to_mark.empty();
    for (const poll& p : polls) {
      const cudaError_t status = p.event ? cudaEventQuery(p.event) : p.error;
      if (status == cudaErrorNotReady) continue;
      if (status != cudaSuccess) (void)cudaGetLastError();
      progress = retire(*p.track, p.seq, status) || progress;
    }
    const std::uint64_t now = detail::now_ns();
    if (progress) {
      interval = 0;
      eager_since = now;
      continue;
    }
    // Nothing completed: wait a little longer each time.
    if (eager && now - eager_since < eager_spin_ns) {
      interval = interval < eager_min_ns ? eager_min_ns : std::min(2 * interval, eager_max_ns);
      const std::uint64_t until = now + interval;
      while (detail::now_ns() < until && wake_.load(std::memory_order_relaxed) == seen)
        detail::progress::pause();
      continue;
    }
    interval = interval < lazy_min_ns ? lazy_min_ns : std::min(2 * interval, lazy_max_ns);
    if (eager) interval = lazy_min_ns;
    std::uint64_t wait = interval;
    if (mark_due != UINT64_MAX) wait = std::min(wait, mark_due > now ? mark_due - now : 0);
    if (wait == 0) continue;
    std::unique_lock lock(mutex_);
    sleeping_ = true;
    cv_.wait_for(lock, std::chrono::nanoseconds(wait),
                 [&] { return stop_ || wake_.load(std::memory_order_relaxed) != seen; });
    sleeping_ = false;
  }
}

// --- cuda_backend ----------------------------------------------------------------------------

cuda_backend::cuda_backend() {
  int count = 0;
  // No driver or no GPU: no devices, not an error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  for (int i = 0; i < count; ++i)
    devices_.push_back(std::make_unique<cuda_device>(i));
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

void cuda_backend::flush_queue(void* queue_state) noexcept {
  if (queue_state) static_cast<cuda_queue*>(queue_state)->flush();
}

void cuda_backend::flush_all() noexcept {
  for (const auto& d : devices_)
    d->flush_all();
}

void cuda_backend::execute(const std::shared_ptr<detail::command>& cmd) {
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
    stream_track& track = q.pick(*cmd);
    const cudaStream_t stream = track.stream;
    for (const auto& dep : cmd->device_waits) {
      const detail::command& d = *dep->owner;
      if (d.device_stream == stream) continue;  // the stream orders them
      // An event recorded now on the dependency's stream follows it: wait for that. (The
      // wait is on this record; the event may be recorded again at once.)
      cuda_device& ddev = *static_cast<cuda_device*>(d.marker_owner);
      const cudaEvent_t e = ddev.events.acquire();
      const cudaError_t recorded = cudaEventRecord(e, static_cast<cudaStream_t>(d.device_stream));
      const cudaError_t waited =
          recorded == cudaSuccess ? cudaStreamWaitEvent(stream, e, 0) : cudaSuccess;
      ddev.events.release(e);
      NDL_CUDA_CHECK(ddev, recorded);
      NDL_CUDA_CHECK(dev, waited);
    }
    if (cmd->run_inline) {
      // A synchronous launch: its caller blocks on it, so wait for the stream right here
      // (no event, no completion thread). Commands it was ordered after have completed on
      // the device by then: they are finished first, so that events complete in order.
      enqueue(*cmd, dev, stream);
      NDL_CUDA_CHECK(dev, cudaStreamSynchronize(stream));
#if NDL_CHECKED
      dev.check_finished(*cmd);
#endif
      dev.settle_dependencies(*cmd, true);
      cmd->device_waits.clear();
      detail::finish_command(cmd);
      return;
    }
    cmd->marker_owner = &dev;
    cmd->release_marker = &release_markers;
    cmd->flush = &flush_command;
    cmd->device_stream = stream;
    cmd->device_track = &track;
    cmd->enqueued_by = this;
    if (cmd->device_event.profiling()) {
      // Profiling queues: the command's own timed events before and after it; the one after
      // is its marker.
      cmd->device_start_marker = dev.timed_events.acquire();
      NDL_CUDA_CHECK(dev,
                     cudaEventRecord(static_cast<cudaEvent_t>(cmd->device_start_marker), stream));
      enqueue(*cmd, dev, stream);
      std::lock_guard mark_lock(track.mark_mutex);
      cmd->device_marker = dev.timed_events.acquire();
      NDL_CUDA_CHECK(dev, cudaEventRecord(static_cast<cudaEvent_t>(cmd->device_marker), stream));
      dev.push(track, cmd, static_cast<cudaEvent_t>(cmd->device_marker));
    } else {
      enqueue(*cmd, dev, stream);
      dev.push(track, cmd);
    }
    // Pairs with the acquire load in queue_impl::add_dependency (the fields above are set)
    // and with flush_completion() (seq_cst: a thread that began waiting meanwhile and did
    // not see `enqueued` is seen here). A thread waiting for the whole queue (or for
    // everything) counted itself before flushing: what it did not flush is flushed here.
    cmd->enqueued.store(true, std::memory_order_seq_cst);
    if (cmd->awaited.load(std::memory_order_seq_cst) || cmd->queue->awaited()) dev.flush(*cmd);
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
