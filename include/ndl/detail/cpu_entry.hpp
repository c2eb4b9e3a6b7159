/// @file cpu_entry.hpp
/// The CPU entry points of a launch: plain loops over work-items, instantiated per kernel.
#pragma once

#include <optional>

#include "ndl/detail/launch_record.hpp"
#include "ndl/detail/work_group.hpp"
#include "ndl/kernel/nd_item.hpp"

namespace ndl::detail {

/// Splits a linear id into a row-major multi-dimensional id.
template <int Dim>
inline void delinearize(size_t lin, const size_t* r, size_t* id) {
  for (int d = Dim - 1; d > 0; --d) {
    id[d] = lin % r[d];
    lin /= r[d];
  }
  id[0] = lin;
}

/// Runs the work-items with linear ids in [first, last) of a range launch.
///
/// The innermost loop runs over the last dimension as a plain counted loop so that the
/// compiler can vectorise the kernel body.
template <class Payload, int Dim>
bool cpu_range_entry(const void* p, const index_space& space, size_t first, size_t last,
                     cpu_failure& failure) {
  const Payload& payload = *static_cast<const Payload*>(p);
  size_t r[Dim];
  for (int d = 0; d < Dim; ++d)
    r[d] = space.global[d];
  size_t id[Dim];
  delinearize<Dim>(first, r, id);
  size_t j = id[Dim - 1];
  try {
    size_t remaining = last - first;
    while (remaining != 0) {
      const size_t row_end = (r[Dim - 1] - j < remaining) ? r[Dim - 1] : j + remaining;
      remaining -= row_end - j;
      for (; j < row_end; ++j) {
        size_t cur[Dim];
        for (int d = 0; d < Dim - 1; ++d)
          cur[d] = id[d];
        cur[Dim - 1] = j;
        payload.invoke(item_access::make_item<Dim>(cur, r));
      }
      // Carry into the slower dimensions.
      j = 0;
      for (int d = Dim - 2; d >= 0; --d) {
        if (++id[d] < r[d]) break;
        id[d] = 0;
      }
    }
  } catch (...) {
    failure.error = std::current_exception();
    for (int d = 0; d < Dim - 1; ++d)
      failure.id[d] = id[d];
    failure.id[Dim - 1] = j;
    return false;
  }
  return true;
}

/// What the work-group engine needs to run one work-item of the current group.
template <class Payload, int Dim>
struct nd_context {
  const Payload* payload;
  size_t lr[Dim];
  size_t gr[Dim];
  size_t gid[Dim];
};

/// Runs work-item `lin` of the current group (the fiber path of the engine).
template <class Payload, int Dim>
void run_nd_item(const group_frame& frame, size_t lin) {
  const auto& c = *static_cast<const nd_context<Payload, Dim>*>(frame.context);
  size_t lid[Dim];
  delinearize<Dim>(lin, c.lr, lid);
  c.payload->invoke(item_access::make_nd_item<Dim>(lid, c.gid, c.lr, c.gr));
}

/// Holds a local memory block for the duration of a chunk.
struct local_arena_guard {
  void* block = nullptr;
  ~local_arena_guard() {
    if (block) release_local_arena(block);
  }
};

/// Runs the work-groups with linear ids in [first, last) of an nd-range launch.
///
/// Each work-group runs as a plain loop over its work-items. If work-item 0 reaches a
/// group_barrier, the engine switches that group to fibers and `frame.fibers` is set when
/// work-item 0 returns; finish_fiber_group() then runs the rest of the group.
template <class Payload, int Dim>
bool cpu_nd_entry(const void* p, const index_space& space, size_t first, size_t last,
                  cpu_failure& failure) {
  const Payload* payload = static_cast<const Payload*>(p);
  // Local accessors point into a block of this thread's for the whole chunk: bind them in
  // a private copy of the payload (the shared one is read by other threads).
  local_arena_guard arena;
  std::optional<Payload> bound;
  if constexpr (Payload::has_local) {
    arena.block = acquire_local_arena();
    bound.emplace(*payload);
    bound->bind_local(arena.block);
    payload = &*bound;
  }
  nd_context<Payload, Dim> ctx{payload, {}, {}, {}};
  for (int d = 0; d < Dim; ++d) {
    ctx.lr[d] = space.local[d];
    ctx.gr[d] = space.global[d] / space.local[d];
  }
  group_frame frame;
  frame.run_item = &run_nd_item<Payload, Dim>;
  frame.context = &ctx;
  frame.size = space.group_size();
  frame.dims = Dim;
  size_t lid[Dim] = {};
  enter_group(frame);
  try {
    for (size_t g = first; g < last; ++g) {
      delinearize<Dim>(g, ctx.gr, ctx.gid);
      for (int d = 0; d < Dim; ++d)
        frame.group_id[d] = ctx.gid[d];
      size_t lin = 0;
      for (int d = 0; d < Dim; ++d)
        lid[d] = 0;
      // Work-item 0 alone: only it can switch the group to fibers (a barrier that another
      // work-item reaches first is a divergence, thrown by the barrier itself).
      frame.current = 0;
      payload->invoke(item_access::make_nd_item<Dim>(lid, ctx.gid, ctx.lr, ctx.gr));
      if (frame.fibers != nullptr || frame.failed) {
        finish_fiber_group(frame);
        continue;
      }
      lin = 1;
      lid[Dim - 1] = 1;
      // The others: the innermost loop has no exit but its bound, so it vectorises.
      for (;;) {
        for (; lid[Dim - 1] < ctx.lr[Dim - 1]; ++lid[Dim - 1], ++lin) {
          frame.current = lin;
          payload->invoke(item_access::make_nd_item<Dim>(lid, ctx.gid, ctx.lr, ctx.gr));
        }
        lid[Dim - 1] = 0;
        // A kernel that swallowed its group's failure: rethrown once per row.
        if (NDL_UNLIKELY(frame.failed)) finish_fiber_group(frame);
        int d = Dim - 2;
        for (; d >= 0; --d) {
          if (++lid[d] < ctx.lr[d]) break;
          lid[d] = 0;
        }
        if (d < 0) break;
      }
    }
  } catch (const group_failure& gf) {
    abandon_group(frame);
    leave_group(frame);
    failure.error = gf.error;
    failure.divergence = gf.divergence;
    size_t l[Dim];
    delinearize<Dim>(gf.local_linear_id, ctx.lr, l);
    for (int d = 0; d < Dim; ++d)
      failure.id[d] = ctx.gid[d] * ctx.lr[d] + l[d];
    return false;
  } catch (...) {
    // In fiber mode only work-item 0 runs on this stack.
    const size_t thrower = frame.fibers ? 0 : frame.current;
    abandon_group(frame);
    leave_group(frame);
    failure.error = std::current_exception();
    size_t l[Dim];
    delinearize<Dim>(thrower, ctx.lr, l);
    for (int d = 0; d < Dim; ++d)
      failure.id[d] = ctx.gid[d] * ctx.lr[d] + l[d];
    return false;
  }
  leave_group(frame);
  return true;
}

}  // namespace ndl::detail
