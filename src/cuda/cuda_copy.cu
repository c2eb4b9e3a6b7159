// Device kernels of the runtime itself: fills and strided array copies.
#include <cstdint>

#include "cuda/cuda_backend.hpp"

namespace ndl::cuda {

namespace {

struct pattern_bytes {
  unsigned char b[64];
};

template <class T>
__global__ void fill_typed(T* dst, T value, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    dst[i] = value;
}

__global__ void fill_bytes(unsigned char* dst, pattern_bytes p, size_t size, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    for (size_t k = 0; k < size; ++k)
      dst[i * size + k] = p.b[k];
}

struct strided_shape {
  size_t shape[4];
  ptrdiff_t strides[4];  // elements (bytes for the byte-wise copy)
  int dims;
  size_t total;
};

template <class T>
__global__ void strided_copy(T* strided, T* packed, bool to_packed, strided_shape s) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < s.total;
       i += stride) {
    size_t rest = i;
    ptrdiff_t off = 0;
    for (int d = s.dims - 1; d >= 0; --d) {
      off += static_cast<ptrdiff_t>(rest % s.shape[d]) * s.strides[d];
      rest /= s.shape[d];
    }
    if (to_packed)
      packed[i] = strided[off];
    else
      strided[off] = packed[i];
  }
}

struct bytes16 {
  alignas(16) unsigned char b[16];
};

unsigned blocks_for(size_t n, unsigned block) {
  const size_t b = (n + block - 1) / block;
  return static_cast<unsigned>(b < 65535u * 32u ? b : 65535u * 32u);
}

template <class T>
cudaError_t strided_as(void* strided, void* packed, bool to_packed, const strided_shape& s,
                       cudaStream_t stream) {
  strided_copy<T><<<blocks_for(s.total, 256), 256, 0, stream>>>(
      static_cast<T*>(strided), static_cast<T*>(packed), to_packed, s);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_fill(void* dst, const unsigned char* pattern, size_t size, size_t count,
                        cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (size > sizeof(pattern_bytes::b)) return cudaErrorInvalidValue;
  const auto addr = reinterpret_cast<std::uintptr_t>(dst);
  const unsigned grid = blocks_for(count, 256);
  auto typed = [&](auto zero) {
    using T = decltype(zero);
    T v;
    __builtin_memcpy(&v, pattern, sizeof(T));
    fill_typed<T><<<grid, 256, 0, stream>>>(static_cast<T*>(dst), v, count);
    return cudaGetLastError();
  };
  if (size == 1) return typed(std::uint8_t{});
  if (size == 2 && addr % 2 == 0) return typed(std::uint16_t{});
  if (size == 4 && addr % 4 == 0) return typed(std::uint32_t{});
  if (size == 8 && addr % 8 == 0) return typed(std::uint64_t{});
  pattern_bytes p{};
  for (size_t k = 0; k < size; ++k)
    p.b[k] = pattern[k];
  fill_bytes<<<grid, 256, 0, stream>>>(static_cast<unsigned char*>(dst), p, size, count);
  return cudaGetLastError();
}

cudaError_t launch_strided_copy(void* strided, void* packed, bool to_packed, size_t elem_size,
                                int dims, const size_t* shape, const ptrdiff_t* strides,
                                cudaStream_t stream) {
  strided_shape s{};
  s.dims = dims;
  s.total = 1;
  for (int d = 0; d < dims; ++d) {
    s.shape[d] = shape[d];
    s.total *= shape[d];
    s.strides[d] = strides[d];
  }
  if (s.total == 0) return cudaSuccess;
  const auto aligned = [&](size_t a) {
    return reinterpret_cast<std::uintptr_t>(strided) % a == 0 &&
           reinterpret_cast<std::uintptr_t>(packed) % a == 0;
  };
  switch (elem_size) {
    case 1:
      return strided_as<std::uint8_t>(strided, packed, to_packed, s, stream);
    case 2:
      if (aligned(2)) return strided_as<std::uint16_t>(strided, packed, to_packed, s, stream);
      break;
    case 4:
      if (aligned(4)) return strided_as<std::uint32_t>(strided, packed, to_packed, s, stream);
      break;
    case 8:
      if (aligned(8)) return strided_as<std::uint64_t>(strided, packed, to_packed, s, stream);
      break;
    case 16:
      if (aligned(16)) return strided_as<bytes16>(strided, packed, to_packed, s, stream);
      break;
    default:
      break;
  }
  // Other element sizes: copy bytes, with strides and shape in bytes along a new last axis.
  s.shape[dims] = elem_size;
  s.strides[dims] = 1;
  for (int d = 0; d < dims; ++d)
    s.strides[d] *= static_cast<ptrdiff_t>(elem_size);
  s.dims = dims + 1;
  s.total *= elem_size;
  return strided_as<std::uint8_t>(strided, packed, to_packed, s, stream);
}

}  // namespace ndl::cuda
