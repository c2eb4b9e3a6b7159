#include "cpu/fibers.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#if defined(__SANITIZE_THREAD__)
#define NDL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NDL_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NDL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NDL_ASAN 1
#endif
#endif

#if defined(NDL_ASAN)
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                     size_t* size_old);
}
#endif

#if defined(NDL_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#endif

namespace ndl::cpu {

stack_pool::~stack_pool() {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  for (void* m : mappings_)
    munmap(m, fiber_stack_bytes + page);
}

ctx::stack_context stack_pool::take() {
  if (!free_.empty()) {
    ctx::stack_context sc = free_.back();
    free_.pop_back();
    return sc;
  }
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* base = mmap(nullptr, fiber_stack_bytes + page, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  mprotect(base, page, PROT_NONE);  // the guard page: stacks grow down into it
  mappings_.push_back(base);
  ctx::stack_context sc;
  sc.size = fiber_stack_bytes;
  sc.sp = static_cast<char*>(base) + page + fiber_stack_bytes;
  return sc;
}

namespace {
void tsan_switch(void* fiber) noexcept {
#if defined(NDL_TSAN)
  if (fiber) __tsan_switch_to_fiber(fiber, 0);
#else
  (void)fiber;
#endif
}
}  // namespace

ctx::fiber switch_to(context& self, context& target, ctx::fiber&& f) {
  tsan_switch(target.tsan);
#if defined(NDL_ASAN)
  __sanitizer_start_switch_fiber(&self.fake_stack, target.bottom, target.size);
#endif
  ctx::fiber back = std::move(f).resume();
  // Whoever switched back told TSan before running the rest of Boost's switch code on its
  // own stack; say again that this fiber runs now, so that code is not attributed to us.
  tsan_switch(self.tsan);
#if defined(NDL_ASAN)
  __sanitizer_finish_switch_fiber(self.fake_stack, nullptr, nullptr);
#else
  (void)self;
#endif
  return back;
}

void on_fiber_start(context& caller) noexcept {
#if defined(NDL_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &caller.bottom, &caller.size);
#else
  (void)caller;
#endif
}

void on_fiber_exit(context& target) noexcept {
  // No TSan switch here: the target announces itself when its resume() returns (switch_to).
#if defined(NDL_ASAN)
  // Null: this fiber ends, so there is no fake stack to keep.
  __sanitizer_start_switch_fiber(nullptr, target.bottom, target.size);
#else
  (void)target;
#endif
}

namespace tsan {
#if defined(NDL_TSAN)
void* current() noexcept {
  return __tsan_get_current_fiber();
}
void* create() noexcept {
  return __tsan_create_fiber(0);
}
#else
void* current() noexcept {
  return nullptr;
}
void* create() noexcept {
  return nullptr;
}
#endif
}  // namespace tsan

}  // namespace ndl::cpu
