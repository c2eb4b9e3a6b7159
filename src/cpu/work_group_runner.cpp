#include "cpu/work_group_runner.hpp"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "cpu/fibers.hpp"
#include "ndl/detail/work_group.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

enum class item_state { not_started, ready, running, at_barrier, finished };

struct item_slot {
  cpu::ctx::fiber cont;   // the work-item while it is suspended (held by the scheduler)
  cpu::ctx::fiber sched;  // the scheduler while the work-item runs (held by the item)
  item_state state = item_state::not_started;
  const char* file = nullptr;  // the barrier it waits at
  int line = 0;
  int column = 0;
  cpu::context ctx;  // for the sanitizers; work-item 0's is the worker's own stack
};

struct thread_state;

struct group_fibers {
  thread_state* owner = nullptr;
  group_frame* frame = nullptr;
  std::vector<item_slot> items;
  size_t running = 0;
  cpu::context sched;  // the scheduler fiber
  std::exception_ptr error;
  size_t error_item = 0;
  bool divergence = false;
  bool aborted = false;
};

// Thrown inside a suspended work-item's fiber to unwind it when its group fails.
struct group_abort {};

// Per-thread pools: fiber stacks, group states and local memory blocks are reused by every
// work-group this thread runs, never allocated per launch.
struct thread_state {
  cpu::stack_pool stacks;
  std::vector<std::unique_ptr<group_fibers>> free_groups;
  std::vector<void*> free_arenas;
  std::vector<void*> free_tsan_fibers;  // creating one costs ThreadSanitizer ~1 us: reuse
  group_frame* current = nullptr;

  void* take_tsan_fiber() {
    if (free_tsan_fibers.empty()) return cpu::tsan::create();
    void* f = free_tsan_fibers.back();
    free_tsan_fibers.pop_back();
    return f;
  }
  void give_back_tsan_fiber(void* f) {
    if (f) free_tsan_fibers.push_back(f);
  }
};

namespace {

// Thread states are never destroyed: a thread's work can outlive its thread_local
// destructors (the main thread drains work at exit), and the registry keeps them reachable.
// Function-local statics: kernels may run from other translation units' static
// initialisers, before this file's namespace-scope objects are constructed.
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<thread_state*>& registry() {
  static auto* r = new std::vector<thread_state*>;
  return *r;
}

thread_state& state() {
  thread_local thread_state* st = nullptr;
  if (!st) {
    st = new thread_state;
    std::lock_guard lock(registry_mutex());
    registry().push_back(st);
  }
  return *st;
}

std::string group_string(const group_frame& f) {
  std::string s = "(";
  for (int d = 0; d < f.dims; ++d)
    s += (d ? ", " : "") + std::to_string(f.group_id[d]);
  return s + ")";
}

std::string where(const char* file, int line, int column) {
  return std::string(file ? file : "?") + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool same_barrier(const item_slot& a, const item_slot& b) {
  return a.line == b.line && a.column == b.column && a.file == b.file;
}

// "0-15, 17, 20-31" for the work-items whose state satisfies `pick`.
template <class Pick>
std::string item_list(const group_fibers& g, Pick pick) {
  std::string s;
  int ranges = 0;
  const size_t n = g.items.size();
  for (size_t i = 0; i < n;) {
    if (!pick(i, g.items[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < n && pick(j + 1, g.items[j + 1]))
      ++j;
    if (ranges++ == 8) return s.append(", ...");
    if (!s.empty()) s.append(", ");
    s.append(std::to_string(i));
    if (j > i) s.append("-").append(std::to_string(j));  // append: GCC 12 -Wrestrict
    i = j + 1;
  }
  return s;
}

std::exception_ptr divergence_error(const group_frame& f, const std::string& what) {
  return std::make_exception_ptr(
      error(errc::kernel_failure,
            "work-group " + group_string(f) + " diverged at a barrier: " + what +
                " (every work-item of a group must reach the same group_barrier calls)"));
}

void resume_item(group_fibers& g, size_t k) {
  item_slot& slot = g.items[k];
  g.running = k;
  slot.state = item_state::running;
  slot.cont = cpu::switch_to(g.sched, slot.ctx, std::move(slot.cont));
}

void start_item(group_fibers& g, size_t k) {
  item_slot& slot = g.items[k];
  g.running = k;
  slot.state = item_state::running;
  slot.ctx.tsan = g.owner->take_tsan_fiber();
  cpu::ctx::stack_context stack;
  cpu::ctx::fiber f(std::allocator_arg, cpu::pooled_stack{&g.owner->stacks, &stack},
                    [&g, k](cpu::ctx::fiber&& sched) -> cpu::ctx::fiber {
                      cpu::context caller;
                      cpu::on_fiber_start(caller);
                      item_slot& s = g.items[k];
                      s.sched = std::move(sched);
                      try {
                        g.frame->run_item(*g.frame, k);
                      } catch (const group_abort&) {
                        // The group failed elsewhere; this work-item was unwound on purpose.
                      } catch (const group_failure& gf) {
                        if (!g.error) {
                          g.error = gf.error;
                          g.error_item = gf.local_linear_id;
                          g.divergence = gf.divergence;
                        }
                      } catch (...) {
                        if (!g.error) {
                          g.error = std::current_exception();
                          g.error_item = k;
                        }
                      }
                      s.state = item_state::finished;
                      cpu::on_fiber_exit(g.sched);
                      return std::move(s.sched);
                    });
  slot.ctx.set_stack(stack);
  slot.cont = cpu::switch_to(g.sched, slot.ctx, std::move(f));
}

// Unwinds every work-item suspended at a barrier, from the scheduler: each is resumed to
// throw group_abort (work-item 0 lives on the worker's stack and is handed the failure).
void unwind_items(group_fibers& g) {
  g.aborted = true;
  for (size_t k = 1; k < g.items.size(); ++k) {
    item_slot& slot = g.items[k];
    if (slot.state == item_state::at_barrier || slot.state == item_state::ready) resume_item(g, k);
  }
}

void destroy_item_contexts(group_fibers& g) {
  for (size_t k = 1; k < g.items.size(); ++k) {
    g.owner->give_back_tsan_fiber(g.items[k].ctx.tsan);
    g.items[k].ctx.tsan = nullptr;
  }
}

void run_scheduler(group_fibers& g) {
  const size_t n = g.items.size();
  for (;;) {
    // Run every released work-item until it reaches a barrier or returns.
    for (size_t k = 0; k < n; ++k) {
      const item_state st = g.items[k].state;
      if (st == item_state::not_started)
        start_item(g, k);
      else if (st == item_state::ready)
        resume_item(g, k);
      else
        continue;
      if (g.error || g.aborted) {
        unwind_items(g);
        destroy_item_contexts(g);
        return;
      }
    }
    // Everyone is at a barrier or done: they must agree.
    size_t waiting = 0, finished = 0, first_waiting = n;
    bool mismatch = false;
    for (size_t k = 0; k < n; ++k) {
      const item_slot& s = g.items[k];
      if (s.state == item_state::finished) {
        ++finished;
      } else {
        if (first_waiting == n) first_waiting = k;
        const item_slot& f = g.items[first_waiting];
        mismatch = mismatch || !same_barrier(s, f);
        ++waiting;
      }
    }
    if (waiting == 0) {
      destroy_item_contexts(g);
      return;
    }
    if (finished != 0 || mismatch) {
      const item_slot& f = g.items[first_waiting];
      std::string what;
      if (finished != 0) {
        what = "work-items " +
               item_list(
                   g, [](size_t, const item_slot& s) { return s.state == item_state::finished; }) +
               " returned while work-items " +
               item_list(
                   g, [](size_t, const item_slot& s) { return s.state != item_state::finished; }) +
               " wait at the group_barrier at " + where(f.file, f.line, f.column);
      } else {
        what = "work-items " +
               item_list(g,
                         [&](size_t, const item_slot& s) {
                           return s.state != item_state::finished && same_barrier(s, f);
                         }) +
               " wait at the group_barrier at " + where(f.file, f.line, f.column) +
               " while work-items " +
               item_list(g,
                         [&](size_t, const item_slot& s) {
                           return s.state != item_state::finished && !same_barrier(s, f);
                         }) +
               " wait at another one";
      }
      g.error = divergence_error(*g.frame, what);
      g.error_item = first_waiting;
      g.divergence = true;
      unwind_items(g);
      destroy_item_contexts(g);
      return;
    }
    for (auto& s : g.items)
      if (s.state == item_state::at_barrier) s.state = item_state::ready;
  }
}

group_fibers& acquire_group(thread_state& st, group_frame& frame) {
  std::unique_ptr<group_fibers> g;
  if (!st.free_groups.empty()) {
    g = std::move(st.free_groups.back());
    st.free_groups.pop_back();
  } else {
    g = std::make_unique<group_fibers>();
  }
  g->owner = &st;
  g->frame = &frame;
  g->items.resize(frame.size);
  for (auto& s : g->items) {
    s.state = item_state::not_started;
    s.file = nullptr;
    s.line = 0;
    s.column = 0;
    s.ctx = cpu::context{};
  }
  g->sched = cpu::context{};
  g->running = 0;
  g->error = nullptr;
  g->error_item = 0;
  g->divergence = false;
  g->aborted = false;
  frame.fibers = g.release();
  return *frame.fibers;
}

void release_group(group_frame& frame) noexcept {
  group_fibers* g = frame.fibers;
  frame.fibers = nullptr;
  g->owner->give_back_tsan_fiber(g->sched.tsan);
  g->sched.tsan = nullptr;
  g->frame = nullptr;
  g->owner->free_groups.emplace_back(g);
}

// Marks the group failed and throws: a kernel that catches the failure and carries on
// gets it again at its next barrier, and the entry point when it returns.
[[noreturn]] void fail_frame(group_frame& frame, const group_failure& failure) {
  frame.failed = true;
  frame.failure = failure;
  throw failure;
}

// Work-item 0 regained control after the scheduler ended: hand over the group's failure.
void end_group(group_frame& frame) {
  group_fibers& g = *frame.fibers;
  if (!g.error) {
    release_group(frame);
    return;
  }
  group_failure failure{g.error, g.error_item, g.divergence};
  release_group(frame);
  fail_frame(frame, failure);
}

void start_fibers(group_frame& frame, const char* file, int line, int column) {
  thread_state& st = state();
  group_fibers& g = acquire_group(st, frame);
  item_slot& first = g.items[0];
  first.state = item_state::at_barrier;
  first.file = file;
  first.line = line;
  first.column = column;
  first.ctx.tsan = cpu::tsan::current();
  g.sched.tsan = st.take_tsan_fiber();
  cpu::ctx::stack_context stack;
  cpu::ctx::fiber sched(std::allocator_arg, cpu::pooled_stack{&st.stacks, &stack},
                        [&g](cpu::ctx::fiber&& item0) -> cpu::ctx::fiber {
                          // Learns the bounds of the worker's stack, where work-item 0 runs.
                          cpu::on_fiber_start(g.items[0].ctx);
                          g.items[0].cont = std::move(item0);
                          run_scheduler(g);
                          // Done (or failed): work-item 0 continues on the worker's stack.
                          cpu::on_fiber_exit(g.items[0].ctx);
                          return std::move(g.items[0].cont);
                        });
  g.sched.set_stack(stack);
  first.sched = cpu::switch_to(first.ctx, g.sched, std::move(sched));
}

}  // namespace

void enter_group(group_frame& frame) noexcept {
  thread_state& st = state();
  frame.outer = st.current;
  st.current = &frame;
}

void leave_group(group_frame& frame) noexcept {
  state().current = frame.outer;
}

void cpu_group_barrier(const char* file, int line, int column) {
  group_frame* f = state().current;
  if (!f)
    throw error(errc::kernel_failure,
                "group_barrier called outside the work-items of an nd_range launch on the CPU");
  if (f->failed) throw f->failure;
  if (!f->fibers) {
    if (f->current != 0) {
      // Built with append: GCC 12 reports a false -Wrestrict on chained string operator+.
      std::string what = "work-items 0";
      if (f->current > 1) what.append("-").append(std::to_string(f->current - 1));
      what.append(" returned without reaching the group_barrier at ")
          .append(where(file, line, column))
          .append(" that work-item ")
          .append(std::to_string(f->current))
          .append(" reached");
      fail_frame(*f, group_failure{divergence_error(*f, what), f->current, true});
    }
    start_fibers(*f, file, line, column);
  } else {
    group_fibers& g = *f->fibers;
    const size_t k = g.running;
    // A kernel that caught the unwind of its group and reached another barrier is unwound
    // again, without switching: its group is gone.
    if (g.aborted && k != 0) throw group_abort{};
    item_slot& slot = g.items[k];
    slot.state = item_state::at_barrier;
    slot.file = file;
    slot.line = line;
    slot.column = column;
    slot.sched = cpu::switch_to(slot.ctx, g.sched, std::move(slot.sched));
    if (g.aborted && k != 0) throw group_abort{};
  }
  // Work-item 0 (on the worker's stack) is resumed after a failure to report it.
  if (f->fibers && f->fibers->aborted) end_group(*f);
}

void finish_fiber_group(group_frame& frame) {
  if (frame.failed) throw frame.failure;
  group_fibers& g = *frame.fibers;
  g.items[0].state = item_state::finished;
  g.items[0].sched = cpu::switch_to(g.items[0].ctx, g.sched, std::move(g.items[0].sched));
  end_group(frame);
}

void abandon_group(group_frame& frame) noexcept {
  if (!frame.fibers) return;
  group_fibers& g = *frame.fibers;
  // Work-item 0 threw on the worker's stack while the scheduler waited for it: wake the
  // scheduler to unwind the others; it then returns here for good.
  g.aborted = true;
  g.items[0].state = item_state::finished;
  g.items[0].sched = cpu::switch_to(g.items[0].ctx, g.sched, std::move(g.items[0].sched));
  release_group(frame);
}

void* acquire_local_arena() {
  thread_state& st = state();
  if (!st.free_arenas.empty()) {
    void* a = st.free_arenas.back();
    st.free_arenas.pop_back();
    return a;
  }
  // Page-aligned, so that local accessors of any element alignment are aligned.
  void* a = std::aligned_alloc(4096, cpu::local_memory_bytes);
  if (!a) throw std::bad_alloc();
  return a;
}

void release_local_arena(void* arena) noexcept {
  state().free_arenas.push_back(arena);
}

}  // namespace ndl::detail
