/// @file memory_enums.hpp
/// Memory orders, scopes and address spaces of the kernel-side synchronisation API, with
/// numba-dpex's members and values.
#pragma once

namespace ndl {

/// The ordering an atomic operation or fence imposes (numba-dpex `MemoryOrder`).
enum class memory_order : int {
  relaxed = 0,
  acquire = 1,
  consume_unsupported = 2,  ///< not supported, as in numba-dpex
  release = 3,
  acq_rel = 4,
  seq_cst = 5,
};

/// Which work-items an atomic operation, fence or barrier synchronises (`MemoryScope`).
enum class memory_scope : int {
  work_item = 0,
  sub_group = 1,
  work_group = 2,
  device = 3,
  system = 4,
};

/// Where the memory an atomic reference points to lives (`AddressSpace`).
enum class address_space : int {
  private_space = 0,  ///< `private` is a C++ keyword
  global_space = 1,
  constant_space = 2,
  local_space = 3,
  generic_space = 4,
};

}  // namespace ndl
