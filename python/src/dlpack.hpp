// The DLPack structures (https://dmlc.github.io/dlpack/latest/c_api.html), version 1.0: a
// stable C ABI for sharing n-dimensional arrays between frameworks.
#pragma once

#include <cstdint>

namespace ndlaunch::dlpack {

enum : int32_t { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 };
enum : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 };

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  ///< in elements; null means C order
  uint64_t byte_offset;
};

/// The unversioned tensor (capsule name "dltensor").
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

/// Flags of a versioned tensor: the consumer must not write to its memory.
constexpr uint64_t DLPACK_FLAG_BITMASK_READ_ONLY = 1ull << 0;

/// The versioned tensor (capsule name "dltensor_versioned").
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

}  // namespace ndlaunch::dlpack
