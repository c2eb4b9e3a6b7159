// The CPU device: kernels, copies and fills run on a persistent thread pool.
#pragma once

#include <memory>

#include "backend/backend.hpp"
#include "cpu/thread_pool.hpp"

namespace ndl::cpu {

class cpu_backend final : public detail::backend {
 public:
  explicit cpu_backend(detail::progress& waiter);

  backend_kind kind() const override { return backend_kind::cpu; }
  std::vector<detail::device_info> devices() override;
  void* allocate(int ordinal, usm_kind kind, size_t bytes) override;
  void deallocate(int ordinal, usm_kind kind, void* ptr) noexcept override;
  void execute(const std::shared_ptr<detail::command>& cmd) override;
  bool help_one() override { return pool_.run_one(); }
  bool has_work() const override { return pool_.has_work(); }
  // cpu_module.cpp: kernels compiled at run time by the host C++ compiler.
  std::string compile_module(int ordinal, const std::string& source,
                             const std::vector<std::string>& options) override;
  std::string compiler_id(int ordinal) override;
  const detail::rt_kernel* load_module(int ordinal, const std::string& image,
                                       const detail::rt_signature& signature) override;

  /// Work-items per chunk below which a range launch is not split further.
  static constexpr size_t range_grain = 2048;
  /// Bytes per chunk below which copies and fills are not split further.
  static constexpr size_t byte_grain = 256 * 1024;
  /// The largest work-group the CPU device accepts.
  static constexpr size_t max_work_group = 1024;
  /// Local memory per work-group.
  static constexpr size_t local_memory = 256 * 1024;

 private:
  static unsigned thread_count();
  size_t chunks_for(size_t units, size_t grain) const;

  unsigned threads_;  // compute units: NDL_CPU_THREADS or the hardware threads
  thread_pool pool_;
};

}  // namespace ndl::cpu
