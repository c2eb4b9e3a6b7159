// Shared declarations of the ndlaunch extension module (_ndlaunch): the Python-side objects
// wrapping the C++ runtime, and the helpers the binding files share.
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ndl/detail/rt_kernel.hpp"
#include "ndl/ndl.hpp"

namespace ndlaunch {

namespace nb = nanobind;
using ndl::detail::rt_dtype;

/// Size in bytes of an element type.
size_t dtype_size(rt_dtype t);
/// The NumPy name of an element type ("float32").
const char* dtype_name(rt_dtype t);
/// An element type from anything numpy.dtype() accepts (a dtype, a type, a string).
/// @throws TypeError for unsupported types.
rt_dtype dtype_from(nb::handle obj);
/// numpy.dtype of an element type.
nb::object dtype_object(rt_dtype t);

/// An n-dimensional array on a queue's device: ndlaunch.Array.
///
/// Owns (shares) its allocation through `owner`: an ndl USM block for arrays ndlaunch made,
/// or the producer's DLPack tensor for arrays imported with from_dlpack. Strides are in
/// elements. Launches keep `owner` alive, never the Python object, so releasing an array
/// after a launch takes no GIL (unless a foreign producer's deleter takes it).
struct py_array {
  std::shared_ptr<const void> owner;
  ndl::queue queue;
  void* data = nullptr;
  rt_dtype dtype = rt_dtype::f64;
  int ndim = 1;
  int64_t shape[3] = {0, 0, 0};
  int64_t strides[3] = {0, 0, 0};

  size_t size() const {
    size_t n = 1;
    for (int d = 0; d < ndim; ++d)
      n *= static_cast<size_t>(shape[d]);
    return n;
  }
  size_t itemsize() const { return dtype_size(dtype); }
};

/// Work-group local memory of a launch: ndlaunch.LocalAccessor(shape, dtype).
struct py_local {
  rt_dtype dtype = rt_dtype::f32;
  int ndim = 1;
  int64_t shape[3] = {0, 0, 0};
};

/// An index space: ndlaunch.Range.
struct py_range {
  ndl::detail::index_space space;
};
/// An index space with work-groups: ndlaunch.NdRange.
struct py_nd_range {
  ndl::detail::index_space space;
};

/// Makes a new C-order (or F-order) array on `q`.
py_array make_array(const ndl::queue& q, rt_dtype dtype, int ndim, const int64_t* shape,
                    bool fortran);

void bind_errors(nb::module_& m);
void bind_runtime(nb::module_& m);
void bind_array(nb::module_& m);
void bind_launch(nb::module_& m);

}  // namespace ndlaunch
