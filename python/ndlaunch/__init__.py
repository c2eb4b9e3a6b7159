"""ndlaunch: data-parallel kernel launches on CPUs and NVIDIA GPUs, from Python.

Kernels are C++ functions written against the ndl kernel API (``ndlaunch.Kernel``), compiled
at run time for the device they run on, or kernels exported by C++ extensions
(``NDL_PYTHON_EXPORT_KERNEL``). They run over a ``Range`` or an ``NdRange`` on the queue of
their array arguments (compute follows data)::

    import numpy as np, ndlaunch as nl

    add = nl.Kernel('''
    template <class V>
    void vector_sum(ndl::item<1> it, V a, V b, V c) {
      c[it.get_id(0)] = a[it.get_id(0)] + b[it.get_id(0)];
    }''', "vector_sum")
    a = nl.asarray(np.arange(10, dtype=np.float32))
    b = nl.ones_like(a)
    c = nl.empty_like(a)
    nl.call_kernel(add, nl.Range(10), a, b, c)
    print(c.to_numpy())

See docs/python.md for the whole guide.
"""

from __future__ import annotations

import atexit as _atexit
import os as _os

import numpy as _np

from . import _ndlaunch
from ._kernel import Kernel, cache_info, clear_cache
from ._ndlaunch import (
    Array,
    BackendError,
    CompileError,
    DependencyError,
    Device,
    DeviceLostError,
    Error,
    Event,
    InvalidArgumentError,
    InvalidRangeError,
    KernelBase,
    KernelError,
    LocalAccessor,
    NdRange,
    OutOfMemoryError,
    Queue,
    QueueInferenceError,
    Range,
    UnsupportedError,
    call_kernel,
    call_kernel_async,
    devices,
    empty,
    from_dlpack,
    wait,
)

__version__ = "0.1.0"

__all__ = [
    "Array", "BackendError", "CompileError", "DependencyError", "Device", "DeviceLostError",
    "Error", "Event", "InvalidArgumentError", "InvalidRangeError", "Kernel", "KernelBase",
    "KernelError", "LocalAccessor", "NdRange", "OutOfMemoryError", "Queue",
    "QueueInferenceError", "Range", "UnsupportedError", "asarray", "cache_info",
    "call_kernel", "call_kernel_async", "clear_cache", "devices", "empty", "empty_like",
    "from_dlpack", "full", "get_include", "get_library_dir", "ones_like", "wait", "zeros",
    "zeros_like",
]


def get_include() -> str:
    """The directory holding the ndl C++ headers (for kernels and C++ extensions)."""
    return _os.path.join(_os.path.dirname(__file__), "include")


def get_library_dir() -> str:
    """The directory holding libndl.so, which C++ extensions exporting kernels link to."""
    return _os.path.join(_os.path.dirname(__file__), "lib")


def _infer_dtype(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, _np.generic):
        return value.dtype
    raise TypeError(f"cannot infer an array type from {type(value).__name__}; pass dtype=")


def zeros(shape, dtype="float64", queue=None, order="C") -> Array:
    """An array of zeros (see empty for the arguments)."""
    a = empty(shape, dtype, queue, order)
    _ndlaunch._fill(a, 0)
    return a


def full(shape, fill_value, dtype=None, queue=None, order="C") -> Array:
    """An array with every element `fill_value`; the type follows the value unless given."""
    a = empty(shape, _infer_dtype(fill_value) if dtype is None else dtype, queue, order)
    _ndlaunch._fill(a, fill_value)
    return a


def empty_like(a: Array) -> Array:
    """An uninitialised array of the shape, type and queue of `a` (C order)."""
    return empty(a.shape, a.dtype, a.queue)


def zeros_like(a: Array) -> Array:
    """An array of zeros of the shape, type and queue of `a`."""
    return zeros(a.shape, a.dtype, a.queue)


def ones_like(a: Array) -> Array:
    """An array of ones of the shape, type and queue of `a`."""
    return full(a.shape, 1, a.dtype, a.queue)


def asarray(obj, dtype=None, queue=None) -> Array:
    """An Array holding the data of `obj`: an Array (returned as it is when type and queue
    already match), a NumPy array or anything NumPy converts (lists, buffers, scalars in a
    list). The data is copied onto `queue` (a Queue, Device, filter string or None for the
    default device). For zero-copy sharing with other frameworks, use from_dlpack."""
    if isinstance(obj, Array):
        same_type = dtype is None or _np.dtype(dtype) == obj.dtype
        same_queue = queue is None or (isinstance(queue, Queue) and queue == obj.queue)
        if same_type and same_queue:
            return obj
        obj = obj.to_numpy()
    host = _np.asarray(obj, dtype=dtype)
    if host.ndim == 0:  # (ascontiguousarray would make it 1-d)
        raise InvalidArgumentError(
            "ndlaunch arrays have 1, 2 or 3 dimensions, got a scalar (wrap it in a list)")
    return _ndlaunch._from_host(_np.ascontiguousarray(host), queue)


_exported: dict = {}


def _as_kernel(obj) -> KernelBase:
    """The kernel object of anything call_kernel accepts (called on its slow path)."""
    if isinstance(obj, KernelBase):
        return obj
    name = _ndlaunch._capsule_name(obj) if type(obj).__name__ == "PyCapsule" else ""
    if not name:
        raise TypeError(
            "call_kernel needs an ndlaunch.Kernel or a kernel exported by a C++ extension "
            f"(NDL_PYTHON_EXPORT_KERNEL), not {type(obj).__name__}")
    entry = _exported.get(id(obj))
    if entry is None or entry[0] is not obj:
        from ._kernel import ExportedKernel
        entry = (obj, ExportedKernel(obj, name))
        _exported[id(obj)] = entry
    return entry[1]


# Launches in flight finish before the interpreter goes away (their arguments are released
# into a live interpreter, and no worker thread outlives it mid-kernel).
_atexit.register(_ndlaunch._drain)
