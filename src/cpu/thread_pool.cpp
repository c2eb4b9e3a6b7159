#include "cpu/thread_pool.hpp"

#include <cstring>

namespace ndl::cpu {

thread_pool::thread_pool(unsigned workers, detail::progress& waiter) : waiter_(waiter) {
  if (workers == 0) workers = 1;
  threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i)
    threads_.emplace_back([this] { worker_loop(); });
}

thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_release);
  waiter_.notify_work();
  for (auto& t : threads_)
    t.join();
}

void thread_pool::worker_loop() {
  while (!stop_.load(std::memory_order_acquire)) {
    if (run_one()) continue;
    // Idle: sleep until work arrives (event completions do not wake idle workers).
    waiter_.wait_for_work([this] { return stop_.load(std::memory_order_acquire) || has_work(); });
  }
}

void thread_pool::push(std::shared_ptr<detail::command> cmd, size_t units, size_t num_chunks) {
  // A command with no work still becomes one (empty) chunk, finished from the pool's loop:
  // finishing it here would recurse through its dependents, once per link of a chain.
  if (units == 0 || num_chunks == 0) num_chunks = 1;
  auto* j = new job;
  j->cmd = std::move(cmd);
  j->units = units;
  j->num_chunks = num_chunks;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(j);
    queued_.store(jobs_.size(), std::memory_order_release);
  }
  waiter_.notify_work();
}

// A thread takes the lock once per job it joins, not once per chunk: it then claims chunks
// with one atomic increment each until none is left. The job stays alive while anyone
// claims from it (`users`), and the thread that claims the last chunk removes it from the
// queue.
bool thread_pool::run_one() {
  if (!has_work()) return false;
  job* j;
  {
    std::lock_guard lock(mutex_);
    if (jobs_.empty()) return false;
    j = jobs_.front();
    j->users.fetch_add(1, std::memory_order_relaxed);  // the lock orders it before retire()
  }
  bool ran = false;
  for (;;) {
    const size_t chunk = j->next.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= j->num_chunks) break;
    if (chunk + 1 == j->num_chunks) retire(j);
    detail::command& cmd = *j->cmd;
    if (chunk == 0) cmd.device_event.mark_running();
    if (!cmd.cancelled.load(std::memory_order_relaxed) && j->units != 0) {
      // Split without multiplying: chunk * units would overflow for huge launches.
      const size_t q = j->units / j->num_chunks, r = j->units % j->num_chunks;
      const size_t first = chunk * q + (chunk < r ? chunk : r);
      const size_t last = first + q + (chunk < r ? 1 : 0);
      run_chunk(cmd, first, last);
    }
    ran = true;
    // acq_rel: the thread finishing the last chunk sees every other chunk's writes.
    if (j->finished.fetch_add(1, std::memory_order_acq_rel) + 1 == j->num_chunks) {
      std::shared_ptr<detail::command> done = std::move(j->cmd);
      detail::finish_command(done);
      break;
    }
  }
  release(j);
  return ran;
}

void thread_pool::retire(job* j) {
  {
    std::lock_guard lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it)
      if (*it == j) {
        jobs_.erase(it);
        break;
      }
    queued_.store(jobs_.size(), std::memory_order_release);
  }
  release(j);  // the queue's reference
}

void thread_pool::release(job* j) noexcept {
  // acq_rel: the last user sees every other user's accesses before deleting.
  if (j->users.fetch_sub(1, std::memory_order_acq_rel) == 1) delete j;
}

namespace {

// Visits the rows (last dimension) of a strided array in [first_row, last_row) as
// (element offset of the row start, row index in row-major order).
template <class F>
void for_rows(const detail::command& c, size_t first_row, size_t last_row, F&& f) {
  size_t idx[3] = {0, 0, 0};
  const int outer = c.dims - 1;
  for (size_t row = first_row; row < last_row; ++row) {
    size_t r = row;
    ptrdiff_t off = 0;
    for (int d = outer - 1; d >= 0; --d) {
      idx[d] = r % c.shape[d];
      r /= c.shape[d];
      off += static_cast<ptrdiff_t>(idx[d]) * c.strides[d];
    }
    f(off, row);
  }
}

}  // namespace

void thread_pool::run_chunk(detail::command& cmd, size_t first, size_t last) {
  using detail::command_kind;
  switch (cmd.kind) {
    case command_kind::kernel: {
      detail::cpu_failure failure;
      const auto& r = cmd.record;
      try {
        if (!r.cpu_entry(r.payload, r.space, first, last, failure))
          cmd.fail(detail::kernel_error(cmd, failure));
      } catch (...) {
        cmd.fail(std::current_exception());
      }
      break;
    }
    case command_kind::copy:
      std::memcpy(static_cast<char*>(cmd.dst) + first, static_cast<const char*>(cmd.src) + first,
                  last - first);
      break;
    case command_kind::fill: {
      auto* out = static_cast<unsigned char*>(cmd.dst);
      const size_t n = cmd.pattern_size;
      if (n == 1) {
        std::memset(out + first, cmd.pattern[0], last - first);
      } else {
        for (size_t i = first; i < last; ++i)
          std::memcpy(out + i * n, cmd.pattern, n);
      }
      break;
    }
    case command_kind::strided_read:
    case command_kind::strided_write: {
      const size_t es = cmd.elem_size;
      const size_t inner = cmd.shape[cmd.dims - 1];
      const ptrdiff_t s = cmd.strides[cmd.dims - 1];
      const bool read = cmd.kind == command_kind::strided_read;
      for_rows(cmd, first, last, [&](ptrdiff_t off, size_t row) {
        auto* strided = static_cast<char*>(read ? const_cast<void*>(cmd.src) : cmd.dst);
        auto* packed = static_cast<char*>(read ? cmd.dst : const_cast<void*>(cmd.src));
        char* base = strided + off * static_cast<ptrdiff_t>(es);
        char* dense = packed + row * inner * es;
        if (s == 1) {
          if (read)
            std::memcpy(dense, base, inner * es);
          else
            std::memcpy(base, dense, inner * es);
          return;
        }
        for (size_t i = 0; i < inner; ++i) {
          char* e = base + static_cast<ptrdiff_t>(i) * s * static_cast<ptrdiff_t>(es);
          if (read)
            std::memcpy(dense + i * es, e, es);
          else
            std::memcpy(e, dense + i * es, es);
        }
      });
      break;
    }
  }
}

}  // namespace ndl::cpu
