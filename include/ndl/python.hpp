/// @file python.hpp
/// Exports kernels compiled into a C++ extension module to Python, where
/// `ndlaunch.call_kernel` launches them like kernels written in Python.
///
/// The extension compiles each kernel for the signatures it lists (with nvcc the kernels also
/// run on NVIDIA GPUs) and links to the ndl library of the ndlaunch package
/// (`ndlaunch.get_include()`, `ndlaunch.get_library_dir()`). Any binding library works: the
/// export is a capsule added to the module.
///
/// @code
/// #include <ndl/python.hpp>
///
/// struct saxpy {
///   template <class V>
///   NDL_KERNEL_FN void operator()(ndl::item<1> it, V x, V y, float a) const {
///     y[it.get_id(0)] += a * x[it.get_id(0)];
///   }
/// };
///
/// PyMODINIT_FUNC PyInit_my_kernels() {
///   static PyModuleDef def = {PyModuleDef_HEAD_INIT, "my_kernels", nullptr, -1, nullptr};
///   PyObject* m = PyModule_Create(&def);
///   NDL_PYTHON_EXPORT_KERNEL(m, "saxpy", saxpy{},
///       ndl::python::signature<ndl::range<1>, ndl::view<float, 1>, ndl::view<float, 1>, float>{});
///   return m;
/// }
/// @endcode
///
/// Python: `ndlaunch.call_kernel(my_kernels.saxpy, ndlaunch.Range(n), x, y, numpy.float32(2))`.
#pragma once

#include <Python.h>

#include <string>

#include "ndl/detail/rt_kernel.hpp"
#include "ndl/kernel/atomic.hpp"
#include "ndl/kernel/barrier.hpp"
#include "ndl/kernel/private_array.hpp"

namespace ndl::python {

/// Names the capsule of an exported kernel.
inline constexpr const char* capsule_name = "ndlaunch.kernel_table";

/// What an exported kernel's capsule holds: its specialisations.
struct kernel_table {
  unsigned abi = detail::rt_abi_version;
  int checked = NDL_CHECKED;
  const char* name = nullptr;
  int count = 0;
  const detail::rt_kernel* const* specs = nullptr;
};

/// One signature to export a kernel for: the index space type, then the kernel argument
/// types (ndl::view<T, D> for arrays, ndl::local_accessor<T, D>, scalars). Python ints arrive
/// as `long` (int64), floats as `double`; NumPy scalars keep their type.
template <class Space, class... KArgs>
struct signature {};

namespace detail {
template <class Kernel, class Space, class... KArgs>
const ndl::detail::rt_kernel* specialize(const Kernel& k, const char* name,
                                         signature<Space, KArgs...>) {
  return ndl::detail::rt_specialize<Kernel, Space, KArgs...>(k, name);
}

inline PyObject* module_ptr(PyObject* m) {
  return m;
}
template <class M>
PyObject* module_ptr(const M& m) requires requires {
  m.ptr();
}
{ return m.ptr(); }
}  // namespace detail

/// Adds `kernel` to `module` as attribute `name`, compiled for each of `signatures`.
/// Returns false with a Python exception set on failure (as the Python C API does).
template <class Module, class Kernel, class... Signatures>
bool export_kernel(const Module& module, const char* name, const Kernel& kernel,
                   Signatures... signatures) {
  static_assert(sizeof...(Signatures) > 0, "export a kernel for at least one signature");
  static const ndl::detail::rt_kernel* const specs[] = {
      detail::specialize(kernel, name, signatures)...};
  static const kernel_table table{ndl::detail::rt_abi_version, NDL_CHECKED, name,
                                  static_cast<int>(sizeof...(Signatures)), specs};
  PyObject* capsule = PyCapsule_New(const_cast<kernel_table*>(&table), capsule_name, nullptr);
  if (!capsule) return false;
  if (PyModule_AddObject(detail::module_ptr(module), name, capsule) < 0) {
    Py_DECREF(capsule);
    return false;
  }
  return true;
}

}  // namespace ndl::python

/// Exports `kernel` (a kernel object) to Python as attribute `name` (a string literal) of
/// `module` (a `PyObject*`, or a nanobind / pybind11 module), compiled for each
/// `ndl::python::signature<...>{}` that follows. Evaluates to false with a Python exception
/// set on failure. Export each kernel type once (its specialisations are statics of the type).
#define NDL_PYTHON_EXPORT_KERNEL(module, name, kernel, ...) \
  ::ndl::python::export_kernel(module, name, kernel, __VA_ARGS__)
