// Fibers for work-groups that reach a barrier: Boost.Context fibers on stacks pooled per
// thread, with the switch annotations the sanitizers need.
#pragma once

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <vector>

namespace ndl::cpu {

namespace ctx = boost::context;

/// Bytes of stack per work-item fiber (plus a guard page below it).
inline constexpr std::size_t fiber_stack_bytes = 64 * 1024;

/// Stacks of one thread, reused across work-groups and launches. Each stack is mapped
/// once, with an inaccessible guard page below it so that an overflow faults instead of
/// corrupting a neighbour.
class stack_pool {
 public:
  stack_pool() = default;
  ~stack_pool();
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  ctx::stack_context take();
  void give_back(ctx::stack_context sc) noexcept { free_.push_back(sc); }

 private:
  std::vector<ctx::stack_context> free_;
  std::vector<void*> mappings_;  // every mapping, unmapped at destruction
};

/// The StackAllocator Boost.Context expects, drawing from a stack_pool; reports the stack it
/// hands out through `given` (for the sanitizers).
struct pooled_stack {
  stack_pool* pool;
  ctx::stack_context* given;
  ctx::stack_context allocate() {
    *given = pool->take();
    return *given;
  }
  void deallocate(ctx::stack_context& sc) noexcept { pool->give_back(sc); }
};

/// One execution context (a fiber, or a thread's own stack) as the sanitizers see it.
struct context {
  void* tsan = nullptr;        // ThreadSanitizer's fiber
  void* fake_stack = nullptr;  // AddressSanitizer's saved fake stack
  const void* bottom = nullptr;
  std::size_t size = 0;

  /// Describes a pooled stack.
  void set_stack(const ctx::stack_context& sc) {
    size = sc.size;
    bottom = static_cast<const char*>(sc.sp) - sc.size;
  }
};

/// Switches from `self` to `target` by resuming `f`; returns the fiber that switches back.
/// Every switch goes through here (or the two hooks below) so the sanitizers can follow.
ctx::fiber switch_to(context& self, context& target, ctx::fiber&& f);
/// First thing a new fiber does: completes the switch into it; `caller` learns the bounds of
/// the stack it came from.
void on_fiber_start(context& caller) noexcept;
/// Last thing a fiber does before returning `target`'s continuation.
void on_fiber_exit(context& target) noexcept;

/// ThreadSanitizer's fibers: no-ops unless built with -fsanitize=thread.
namespace tsan {
void* current() noexcept;
void* create() noexcept;
}  // namespace tsan

}  // namespace ndl::cpu
