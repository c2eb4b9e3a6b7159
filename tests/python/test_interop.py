"""Interoperability: NumPy (asarray, __array__), DLPack in both directions (versioned and
legacy capsules, strided and zero-size tensors, zero-copy sharing), and the CUDA array
interface."""

from __future__ import annotations

import ctypes
import gc
import sys

import numpy as np
import pytest

import ndlaunch as nl
from conftest import DTYPES

_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_is_valid.restype = ctypes.c_int


def capsule_named(capsule, name: str) -> bool:
    return bool(_capsule_is_valid(capsule, name.encode()))


class Producer:
    """A DLPack producer wrapping another one; keeps the capsules it hands out.

    legacy=True: a producer from before DLPack 1.0, whose __dlpack__ takes no max_version
    (the consumer must retry without it and get a "dltensor" capsule)."""

    def __init__(self, inner, legacy=False):
        self.inner = inner
        self.legacy = legacy
        self.capsules = []
        self.calls = []

    def __dlpack__(self, *, stream=None, **kwargs):
        self.calls.append(dict(kwargs))
        if self.legacy:
            if kwargs:
                raise TypeError("__dlpack__() got an unexpected keyword argument")
            cap = self.inner.__dlpack__()
        else:
            cap = self.inner.__dlpack__(**kwargs)
        self.capsules.append(cap)
        return cap

    def __dlpack_device__(self):
        return self.inner.__dlpack_device__()


# ---- NumPy ---------------------------------------------------------------------------------


def test_numpy_asarray_and_array_protocol(device):
    src = np.arange(12, dtype=np.int32).reshape(3, 4)
    a = nl.asarray(src, queue=device)
    h = np.asarray(a)
    assert h.dtype == np.int32 and h.shape == (3, 4)
    np.testing.assert_array_equal(h, src)
    f = np.array(a, dtype=np.float32)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f, src)
    np.testing.assert_array_equal(np.asarray(a[::-1, 1::2]), src[::-1, 1::2])
    # NumPy functions take Arrays.
    assert np.sum(a) == src.sum()
    # __array__ is a copy: changing it leaves the Array alone.
    h[0, 0] = 100
    assert a.to_numpy()[0, 0] == 0


# ---- DLPack export (Array -> NumPy) --------------------------------------------------------


def test_dlpack_device(device):
    a = nl.zeros(3, queue=device)
    if device.backend == "cpu":
        assert a.__dlpack_device__() == (1, 0)
    else:
        assert a.__dlpack_device__() == (2, int(device.filter_string.split(":")[1]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_from_dlpack_of_every_dtype(cpu_device, dtype):
    src = (np.arange(10) % 3).astype(dtype).reshape(2, 5)
    v = np.from_dlpack(nl.asarray(src, queue=cpu_device))
    assert v.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(v, src)


def test_numpy_from_dlpack_shares_memory(cpu_device, K):
    a = nl.zeros(8, queue=cpu_device)
    v = np.from_dlpack(a)
    assert v.ctypes.data == a.data_ptr
    nl.call_kernel(K.add1, nl.Range(8), a)
    np.testing.assert_array_equal(v, np.ones(8))  # the kernel's write shows in NumPy
    v[3] = 42  # and NumPy's write in the Array
    assert a.to_numpy()[3] == 42


def test_numpy_from_dlpack_waits_for_pending_launches(cpu_device, K):
    q = nl.Queue(cpu_device)
    a = nl.zeros(1 << 20, queue=q)
    for _ in range(5):
        nl.call_kernel_async(K.add1, nl.Range(1 << 20), [], a)
    v = np.from_dlpack(a)  # export drains the queue first
    assert (v == 5).all()


def test_numpy_from_dlpack_of_strided_views(cpu_device):
    src = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    a = nl.asarray(src, queue=cpu_device)
    for key in (np.s_[::-1], np.s_[:, ::2, ::-3], np.s_[1], np.s_[..., 4], np.s_[:, 1:1]):
        v = np.from_dlpack(a[key])
        assert v.shape == src[key].shape
        np.testing.assert_array_equal(v, src[key])
        if v.size > 1:
            assert v.strides == src[key].strides
    f = nl.zeros((3, 4), "float32", queue=cpu_device, order="F")
    assert np.from_dlpack(f).flags.f_contiguous


def test_numpy_from_dlpack_of_zero_size_arrays(cpu_device):
    for shape in [(0,), (3, 0), (0, 2, 2)]:
        v = np.from_dlpack(nl.zeros(shape, "int16", queue=cpu_device))
        assert v.shape == shape and v.dtype == np.int16


def test_exported_memory_outlives_the_array(cpu_device):
    v = np.from_dlpack(nl.asarray(np.arange(1000.0), queue=cpu_device))
    gc.collect()
    junk = [nl.full(1000, -1.0, queue=cpu_device) for _ in range(10)]  # reuse freed memory
    np.testing.assert_array_equal(v, np.arange(1000.0))
    del junk


def test_versioned_and_legacy_capsules(device):
    a = nl.zeros(4, queue=device)
    v = a.__dlpack__(max_version=(1, 0))
    assert capsule_named(v, "dltensor_versioned")
    legacy = a.__dlpack__()
    assert capsule_named(legacy, "dltensor")
    assert capsule_named(a.__dlpack__(max_version=(0, 8)), "dltensor")
    del v, legacy
    gc.collect()  # unconsumed capsules free their tensors


def test_dlpack_export_refusals(device):
    a = nl.zeros(4, queue=device)
    with pytest.raises(BufferError, match="copy=True is not supported"):
        a.__dlpack__(copy=True)
    other = (2, 0) if device.backend == "cpu" else (1, 0)
    with pytest.raises(BufferError, match="another device"):
        a.__dlpack__(dl_device=other)
    here = a.__dlpack_device__()
    assert capsule_named(a.__dlpack__(dl_device=here, copy=False), "dltensor")


# ---- DLPack import (NumPy -> Array) ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_dlpack_of_every_dtype(dtype):
    src = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    a = nl.from_dlpack(src)
    assert a.dtype == np.dtype(dtype) and a.shape == (3, 4) and a.device.backend == "cpu"
    assert a.data_ptr == src.ctypes.data
    np.testing.assert_array_equal(a.to_numpy(), src)


def test_from_dlpack_is_zero_copy_for_kernels(K):
    host = np.zeros(16)
    a = nl.from_dlpack(host)
    nl.call_kernel(K.add1, nl.Range(16), a)
    np.testing.assert_array_equal(host, np.ones(16))
    host[:] = 5  # NumPy's writes reach the kernels too
    nl.call_kernel(K.add1, nl.Range(16), a)
    np.testing.assert_array_equal(host, np.full(16, 6.0))


@pytest.mark.parametrize("key", [np.s_[::2], np.s_[::-1], np.s_[3:11:3], np.s_[::-5]])
def test_from_dlpack_of_strided_1d_views(K, key):
    host = np.zeros(20, np.int64)
    view = host[key]
    a = nl.from_dlpack(view)
    assert a.shape == view.shape and a.strides == tuple(s // 8 for s in view.strides)
    nl.call_kernel(K.write_ids, nl.Range(view.size), a)
    want = np.zeros(20, np.int64)
    want[key] = np.arange(view.size)
    np.testing.assert_array_equal(host, want)


def test_from_dlpack_of_strided_2d_and_3d_views(K):
    host = np.zeros((6, 8), np.int64)
    view = host.T[::2, 1::-1]  # transposed, then strided and reversed
    nl.call_kernel(K.write_ids, nl.Range(*view.shape), nl.from_dlpack(view))
    want = np.zeros((6, 8), np.int64)
    want.T[::2, 1::-1] = np.arange(view.size).reshape(view.shape)
    np.testing.assert_array_equal(host, want)
    cube = np.zeros((4, 5, 6), np.int64)
    v3 = cube[::-1, 1:4, ::3]
    nl.call_kernel(K.write_ids, nl.Range(*v3.shape), nl.from_dlpack(v3))
    want3 = np.zeros((4, 5, 6), np.int64)
    want3[::-1, 1:4, ::3] = np.arange(v3.size).reshape(v3.shape)
    np.testing.assert_array_equal(cube, want3)


def test_from_dlpack_versioned_capsule_is_consumed():
    src = np.arange(5.0)
    p = Producer(src)
    a = nl.from_dlpack(p)
    assert p.calls[0].get("max_version") == (1, 0)
    assert capsule_named(p.capsules[-1], "used_dltensor_versioned")
    np.testing.assert_array_equal(a.to_numpy(), src)


def test_from_dlpack_falls_back_to_a_legacy_capsule(K):
    host = np.zeros(6)
    p = Producer(host, legacy=True)
    a = nl.from_dlpack(p)
    assert len(p.calls) == 2 and p.calls[1] == {}
    assert capsule_named(p.capsules[-1], "used_dltensor")
    nl.call_kernel(K.add1, nl.Range(6), a)
    np.testing.assert_array_equal(host, np.ones(6))


def test_from_dlpack_releases_the_producer(K):
    host = np.zeros(1000)
    before = sys.getrefcount(host)
    a = nl.from_dlpack(host)
    assert sys.getrefcount(host) > before  # the tensor holds the producer
    _, e = nl.call_kernel_async(K.add1, nl.Range(1000), [], a)
    del a
    gc.collect()
    e.wait()
    nl.Queue.default("cpu").wait()
    gc.collect()
    assert sys.getrefcount(host) == before  # the deleter ran: nothing leaks
    np.testing.assert_array_equal(host, np.ones(1000))


def test_from_dlpack_of_an_ndlaunch_array_shares_it(device, K):
    a = nl.zeros(4, queue=device)
    b = nl.from_dlpack(a)
    assert b.data_ptr == a.data_ptr and b.queue == a.queue
    nl.call_kernel(K.add1, nl.Range(4), b)
    np.testing.assert_array_equal(a.to_numpy(), np.ones(4))
    q = nl.Queue(device)
    c = nl.from_dlpack(a, queue=q)
    assert c.queue == q and c.data_ptr == a.data_ptr


def test_from_dlpack_with_queue(cpu_device):
    q = nl.Queue(cpu_device)
    a = nl.from_dlpack(np.arange(3.0), queue=q)
    assert a.queue == q
    assert nl.from_dlpack(np.arange(3.0), queue="cpu").queue == nl.Queue.default("cpu")


def test_from_dlpack_of_zero_size_tensors(K):
    for shape in [(0,), (3, 0), (0, 2, 2)]:
        a = nl.from_dlpack(np.zeros(shape, np.int64))
        assert a.shape == shape and a.size == 0
        nl.call_kernel(K.write_ids, nl.Range(*shape), a)
        assert a.to_numpy().shape == shape


def test_from_dlpack_refusals():
    with pytest.raises(BufferError, match="unsupported element type"):
        nl.from_dlpack(np.zeros(3, np.float16))
    with pytest.raises(BufferError, match="unsupported element type"):
        nl.from_dlpack(np.zeros(3, np.complex64))
    with pytest.raises(nl.InvalidArgumentError, match="1, 2 or 3 dimensions, got 4"):
        nl.from_dlpack(np.zeros((1, 2, 1, 2)))
    with pytest.raises(nl.InvalidArgumentError, match="got 0"):
        nl.from_dlpack(np.array(1.0))
    with pytest.raises(TypeError, match="does not implement __dlpack__"):
        nl.from_dlpack([1, 2, 3])


def test_from_dlpack_refuses_read_only_tensors(K):
    frozen = np.frombuffer(bytes(32), dtype=np.float64)  # memory of an immutable bytes object
    assert not frozen.flags.writeable
    with pytest.raises(BufferError, match="read-only"):
        nl.from_dlpack(frozen)
    # A copy is the way to launch on it.
    a = nl.asarray(frozen)
    nl.call_kernel(K.add1, nl.Range(4), a)
    np.testing.assert_array_equal(a.to_numpy(), np.ones(4))
    np.testing.assert_array_equal(frozen, np.zeros(4))


# ---- CUDA array interface ------------------------------------------------------------------


def test_no_cuda_array_interface_on_cpu_arrays(cpu_device):
    a = nl.zeros(3, queue=cpu_device)
    assert not hasattr(a, "__cuda_array_interface__")
    with pytest.raises(AttributeError, match="not on a CUDA device"):
        a.__cuda_array_interface__


@pytest.mark.cuda
def test_cuda_array_interface(cuda_device):
    a = nl.asarray(np.arange(12, dtype=np.float32).reshape(3, 4), queue=cuda_device)
    cai = a.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<f4"
    assert cai["strides"] is None  # C order
    assert cai["data"] == (a.data_ptr, False)
    v = a[:, ::-2].__cuda_array_interface__
    assert v["shape"] == (3, 2) and v["strides"] == (16, -8)
    assert nl.zeros(2, "bool", queue=cuda_device).__cuda_array_interface__["typestr"] == "|b1"
    assert nl.zeros(2, "uint16", queue=cuda_device).__cuda_array_interface__["typestr"] == "<u2"
    assert nl.zeros(0, queue=cuda_device).__cuda_array_interface__["data"][0] == 0


@pytest.mark.cuda
def test_from_dlpack_of_cuda_tensors(cuda_device, K):
    a = nl.asarray(np.arange(8.0), queue=cuda_device)
    p = Producer(a)  # through a capsule, as another framework's tensor would come
    b = nl.from_dlpack(p)
    assert b.device == cuda_device and b.data_ptr == a.data_ptr
    assert capsule_named(p.capsules[-1], "used_dltensor_versioned")
    nl.call_kernel(K.add1, nl.Range(8), b)
    np.testing.assert_array_equal(a.to_numpy(), np.arange(8.0) + 1)
    # A CUDA tensor does not go to a CPU queue, nor a host tensor to a CUDA queue.
    with pytest.raises(nl.InvalidArgumentError, match="lives on"):
        nl.from_dlpack(Producer(a), queue=nl.Queue("cpu"))
    with pytest.raises(nl.InvalidArgumentError, match="lives on cpu:0"):
        nl.from_dlpack(np.zeros(3), queue=nl.Queue(cuda_device))
