"""Kernels exported by a C++ extension (ndl/python.hpp, NDL_PYTHON_EXPORT_KERNEL): the
extension is compiled by the host compiler against the package's headers and library."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import ndlaunch as nl

EXTENSION = r"""
#include <ndl/kernel/barrier.hpp>
#include <ndl/python.hpp>

// A functor kernel with state: x[i] = x[i] * a + offset.
struct scale_shift {
  int offset;
  template <class V, class S>
  NDL_KERNEL_FN void operator()(ndl::item<1> it, V x, S a) const {
    x[it.get_id(0)] = x[it.get_id(0)] * a + offset;
  }
};

// A second kernel: an nd_range one with local memory (reverses each work-group's slice).
struct group_reverse {
  template <class V, class L>
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, V x, L tmp) const {
    const auto l = it.get_local_id(0), n = it.get_local_range(0);
    tmp[l] = x[it.get_global_id(0)];
    ndl::group_barrier(it.get_group());
    x[it.get_global_id(0)] = tmp[n - 1 - l];
  }
};

PyMODINIT_FUNC PyInit_ndl_test_ext() {
  static PyModuleDef def = {PyModuleDef_HEAD_INIT, "ndl_test_ext", nullptr, -1, nullptr};
  PyObject* m = PyModule_Create(&def);
  if (!m) return nullptr;
  using namespace ndl;
  if (!NDL_PYTHON_EXPORT_KERNEL(m, "scale_shift", scale_shift{10},
                                python::signature<range<1>, view<float, 1>, float>{},
                                python::signature<range<1>, view<double, 1>, double>{}) ||
      !NDL_PYTHON_EXPORT_KERNEL(
          m, "group_reverse", group_reverse{},
          python::signature<nd_range<1>, view<int, 1>, local_accessor<int, 1>>{})) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
"""


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    """The extension, compiled once for the module and imported from a temporary folder."""
    d = tmp_path_factory.mktemp("ext")
    src = d / "ndl_test_ext.cpp"
    src.write_text(EXTENSION)
    out = d / ("ndl_test_ext" + sysconfig.get_config_var("EXT_SUFFIX"))
    lib = nl.get_library_dir()
    cxx = shlex.split(os.environ.get("CXX") or "c++")
    cmd = cxx + ["-std=c++20", "-O1", "-shared", "-fPIC",
                 "-I" + sysconfig.get_paths()["include"], "-I" + nl.get_include(), str(src),
                 "-o", str(out), "-L" + lib, "-lndl", "-Wl,-rpath," + lib]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    sys.path.insert(0, str(d))
    try:
        module = importlib.import_module("ndl_test_ext")
    finally:
        sys.path.remove(str(d))
    yield module
    sys.modules.pop("ndl_test_ext", None)


def test_package_paths():
    assert os.path.isfile(os.path.join(nl.get_include(), "ndl", "python.hpp"))
    assert os.path.isfile(os.path.join(nl.get_include(), "ndl", "detail", "rt_kernel.hpp"))
    assert any(f.startswith("libndl") for f in os.listdir(nl.get_library_dir()))


@pytest.mark.slow
def test_exported_kernel_for_both_signatures(ext, cpu_device):
    assert type(ext.scale_shift).__name__ == "PyCapsule"
    x32 = nl.asarray(np.arange(6, dtype=np.float32), queue=cpu_device)
    nl.call_kernel(ext.scale_shift, nl.Range(6), x32, np.float32(2))
    np.testing.assert_array_equal(x32.to_numpy(), np.arange(6, dtype=np.float32) * 2 + 10)
    x64 = nl.asarray(np.arange(6, dtype=np.float64), queue=cpu_device)
    h, d = nl.call_kernel_async(ext.scale_shift, nl.Range(6), [], x64, 0.5)
    d.wait()
    np.testing.assert_array_equal(x64.to_numpy(), np.arange(6) * 0.5 + 10)


@pytest.mark.slow
def test_exported_nd_range_kernel_with_local_memory(ext, cpu_device):
    x = nl.asarray(np.arange(16, dtype=np.int32), queue=cpu_device)
    nl.call_kernel(ext.group_reverse, nl.NdRange(16, 4), x, nl.LocalAccessor(4, "int32"))
    np.testing.assert_array_equal(x.to_numpy(), np.arange(16).reshape(4, 4)[:, ::-1].ravel())


@pytest.mark.slow
def test_a_signature_that_was_not_exported(ext, cpu_device):
    x = nl.asarray(np.arange(4, dtype=np.int64), queue=cpu_device)
    with pytest.raises(TypeError) as e:
        nl.call_kernel(ext.scale_shift, nl.Range(4), x, 2)
    msg = str(e.value)
    assert "kernel 'scale_shift' was not exported for Range(1): Array[int64, 1], int64" in msg
    assert "Range(1): Array[float32, 1], float32" in msg
    assert "Range(1): Array[float64, 1], float64" in msg
    # Python float with a float32 array: double is not float, so this is not exported either.
    with pytest.raises(TypeError, match="Array\\[float32, 1\\], float64"):
        nl.call_kernel(ext.scale_shift, nl.Range(4), nl.zeros(4, "float32", queue=cpu_device),
                       2.0)
    with pytest.raises(TypeError, match="NdRange\\(1\\)"):
        nl.call_kernel(ext.scale_shift, nl.NdRange(4, 2), nl.zeros(4, "float32"),
                       np.float32(1))
    # The exported signatures still work after the refusals.
    y = nl.zeros(4, "float32", queue=cpu_device)
    nl.call_kernel(ext.scale_shift, nl.Range(4), y, np.float32(1))
    np.testing.assert_array_equal(y.to_numpy(), np.full(4, 10.0, np.float32))


@pytest.mark.slow
@pytest.mark.cuda
def test_host_compiled_extension_refuses_cuda_devices(ext, cuda_device):
    x = nl.zeros(4, "float32", queue=cuda_device)
    with pytest.raises(nl.UnsupportedError, match="not compiled by nvcc"):
        nl.call_kernel(ext.scale_shift, nl.Range(4), x, np.float32(2))


def test_call_kernel_refuses_other_capsules():
    import datetime  # any module exporting a capsule of another kind
    cap = datetime.datetime_CAPI
    with pytest.raises(TypeError, match="NDL_PYTHON_EXPORT_KERNEL"):
        nl.call_kernel(cap, nl.Range(1), nl.zeros(1))
