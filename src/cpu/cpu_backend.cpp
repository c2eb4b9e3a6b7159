#include "cpu/cpu_backend.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "ndl/error.hpp"

namespace ndl::cpu {

namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = line.substr(colon + 1);
        while (!name.empty() && name.front() == ' ')
          name.erase(name.begin());
        return name;
      }
    }
  }
  return "CPU";
}

}  // namespace

unsigned cpu_backend::thread_count() {
  unsigned threads = std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  if (const char* env = std::getenv("NDL_CPU_THREADS"); env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 4096)
      detail::throw_error(errc::invalid_argument, "NDL_CPU_THREADS='" + std::string(env) +
                                                      "' is not a thread count from 1 to 4096");
    threads = static_cast<unsigned>(v);
  }
  return threads;
}

// The submitting thread runs chunks too while it waits, so the pool holds one thread fewer
// than the device's compute units (and at least one, so asynchronous work progresses).
cpu_backend::cpu_backend(detail::progress& waiter)
    : threads_(thread_count()), pool_(threads_ > 1 ? threads_ - 1 : 1, waiter) {}

std::vector<detail::device_info> cpu_backend::devices() {
  detail::device_info info;
  info.name = cpu_model_name();
  info.kind = device_kind::cpu;
  info.compute_units = threads_;
  info.max_work_group_size = max_work_group;
  info.local_memory_bytes = local_memory;
  for (auto& m : info.max_local_range)
    m = max_work_group;
  return {info};
}

void* cpu_backend::allocate(int, usm_kind, size_t bytes) {
  // Every kind is ordinary host memory on the CPU device; 64-byte alignment suits any
  // element type and vector loads.
  const size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < bytes) return nullptr;
  return std::aligned_alloc(64, rounded);
}

void cpu_backend::deallocate(int, usm_kind, void* ptr) noexcept {
  std::free(ptr);
}

size_t cpu_backend::chunks_for(size_t units, size_t grain) const {
  if (units == 0) return 0;
  const size_t by_grain = units / grain + (units % grain != 0 ? 1 : 0);  // no overflow
  // One chunk per thread, like a static schedule: every extra chunk is another round of
  // claiming; uneven progress is absorbed by threads claiming whichever chunks remain.
  const size_t max_chunks = pool_.concurrency();
  return by_grain < max_chunks ? by_grain : max_chunks;
}

void cpu_backend::execute(const std::shared_ptr<detail::command>& cmd) {
  using detail::command_kind;
  size_t units = 0, chunks = 0;
  switch (cmd->kind) {
    case command_kind::kernel: {
      const auto& s = cmd->record.space;
      if (s.is_nd) {
        units = s.work_items() / s.group_size();  // work-groups
        const size_t grain = range_grain / s.group_size();
        chunks = chunks_for(units, grain ? grain : 1);
      } else {
        units = s.work_items();
        chunks = chunks_for(units, range_grain);
      }
      break;
    }
    case command_kind::copy:
      units = cmd->bytes;
      chunks = chunks_for(units, byte_grain);
      break;
    case command_kind::fill:
      units = cmd->bytes;  // elements
      chunks = chunks_for(units, (byte_grain + cmd->pattern_size - 1) / cmd->pattern_size);
      break;
    case command_kind::strided_read:
    case command_kind::strided_write: {
      size_t rows = 1;
      for (int d = 0; d + 1 < cmd->dims; ++d)
        rows *= cmd->shape[d];
      const size_t row_bytes = cmd->shape[cmd->dims - 1] * cmd->elem_size;
      units = row_bytes ? rows : 0;
      const size_t grain = row_bytes >= byte_grain ? 1 : byte_grain / row_bytes;
      chunks = chunks_for(units, grain);
      break;
    }
  }
  if (cmd->run_inline && chunks == 1 && units != 0) {
    // A synchronous launch small enough for one chunk runs right here, on the thread that
    // submitted it (or that completed its last dependency): no queueing, no wake-ups.
    cmd->device_event.mark_running();
    if (!cmd->cancelled.load(std::memory_order_relaxed)) thread_pool::run_chunk(*cmd, 0, units);
    detail::finish_command(cmd);
    return;
  }
  pool_.push(cmd, units, chunks);
}

}  // namespace ndl::cpu

namespace ndl::detail {
std::unique_ptr<backend> make_cpu_backend(progress& waiter) {
  return std::make_unique<cpu::cpu_backend>(waiter);
}
}  // namespace ndl::detail
