"""ndlaunch.Array: factories, element types, orders, shapes and strides, host copies,
slicing and zero-size arrays."""

from __future__ import annotations

import numpy as np
import pytest

import ndlaunch as nl
from conftest import DTYPES


def sample(dtype, shape):
    """Distinct, exactly representable values of `dtype` (alternating for bool)."""
    n = int(np.prod(shape))
    if dtype == "bool":
        return (np.arange(n) % 3 == 0).reshape(shape)
    return (np.arange(n) % 100 + (1 if np.dtype(dtype).kind == "u" else -50)).astype(
        dtype).reshape(shape)


# ---- Factories and element types -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_round_trips_through_asarray(device, dtype):
    for shape in [(7,), (3, 5), (2, 3, 4)]:
        want = sample(dtype, shape)
        a = nl.asarray(want, queue=device)
        assert a.dtype == np.dtype(dtype)
        assert a.shape == shape and a.ndim == len(shape) and a.size == want.size
        assert a.itemsize == np.dtype(dtype).itemsize and a.nbytes == want.nbytes
        assert a.device == device
        got = a.to_numpy()
        assert got.dtype == np.dtype(dtype) and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_in_zeros_full_and_empty(device, dtype):
    z = nl.zeros((4, 3), dtype, queue=device)
    assert z.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(z.to_numpy(), np.zeros((4, 3), dtype))
    f = nl.full((2, 2, 2), 1, dtype, queue=device)
    np.testing.assert_array_equal(f.to_numpy(), np.ones((2, 2, 2), dtype))
    e = nl.empty(5, dtype, queue=device)
    assert e.shape == (5,) and e.dtype == np.dtype(dtype) and e.to_numpy().shape == (5,)


def test_full_infers_the_type_from_the_value(device):
    assert nl.full(3, 2.5, queue=device).dtype == np.float64
    assert nl.full(3, 7, queue=device).dtype == np.int64
    assert nl.full(3, True, queue=device).dtype == np.bool_
    assert nl.full(3, np.float32(1.5), queue=device).dtype == np.float32
    assert nl.full(3, np.uint16(9), queue=device).dtype == np.uint16
    np.testing.assert_array_equal(nl.full(3, np.int8(-7), queue=device).to_numpy(),
                                  np.full(3, -7, np.int8))
    with pytest.raises(TypeError, match="cannot infer"):
        nl.full(3, "x")


def test_full_converts_values_as_numpy_does(device):
    np.testing.assert_array_equal(nl.full(3, 2**64 - 1, "uint64", queue=device).to_numpy(),
                                  np.full(3, 2**64 - 1, np.uint64))
    np.testing.assert_array_equal(nl.full(2, 2.9, "int32", queue=device).to_numpy(), [2, 2])
    np.testing.assert_array_equal(nl.full(2, -2**31, "int32", queue=device).to_numpy(),
                                  [-2**31] * 2)
    # Out of the type's range: NumPy's OverflowError, not a crash or a wrapped value.
    with pytest.raises(OverflowError):
        nl.full(3, 300, "uint8", queue=device)
    with pytest.raises(OverflowError):
        nl.full(3, -1, "uint32", queue=device)
    with pytest.raises(TypeError, match="scalar"):
        nl.full(3, [1, 2, 3], "int32", queue=device)


def test_like_factories(device):
    a = nl.asarray(np.arange(6, dtype=np.int16).reshape(2, 3), queue=device)
    for make, value in [(nl.zeros_like, 0), (nl.ones_like, 1)]:
        b = make(a)
        assert b.shape == a.shape and b.dtype == a.dtype and b.queue == a.queue
        np.testing.assert_array_equal(b.to_numpy(), np.full((2, 3), value, np.int16))
    e = nl.empty_like(a)
    assert e.shape == (2, 3) and e.dtype == np.int16 and e.queue == a.queue


def test_factories_take_a_queue_device_or_filter_string(device):
    q = nl.Queue(device)
    assert nl.zeros(3, queue=q).queue == q
    assert nl.zeros(3, queue=device).queue == nl.Queue.default(device)
    assert nl.zeros(3, queue=device.filter_string).queue == nl.Queue.default(device)
    assert nl.asarray([1, 2], queue=q).queue == q
    assert nl.full(3, 1.0, queue=q).queue == q


def test_asarray_accepts_lists_and_converts_types(device):
    a = nl.asarray([[1, 2, 3], [4, 5, 6]], queue=device)
    assert a.dtype == np.int64 and a.shape == (2, 3)
    b = nl.asarray([1, 2, 3], dtype="float32", queue=device)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(b.to_numpy(), np.array([1, 2, 3], np.float32))
    assert nl.asarray([True, False], queue=device).dtype == np.bool_
    # A non-contiguous NumPy input is copied in logical order.
    src = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(nl.asarray(src.T, queue=device).to_numpy(), src.T)
    np.testing.assert_array_equal(nl.asarray(src[::-1, ::2], queue=device).to_numpy(),
                                  src[::-1, ::2])


def test_asarray_of_an_array(device):
    a = nl.asarray(np.arange(4.0), queue=device)
    assert nl.asarray(a) is a
    assert nl.asarray(a, dtype="float64") is a
    assert nl.asarray(a, queue=a.queue) is a
    c = nl.asarray(a, dtype="int32")
    assert c is not a and c.dtype == np.int32
    np.testing.assert_array_equal(c.to_numpy(), [0, 1, 2, 3])
    q = nl.Queue(device)
    d = nl.asarray(a, queue=q)
    assert d is not a and d.queue == q
    np.testing.assert_array_equal(d.to_numpy(), [0, 1, 2, 3])


def test_asarray_rejects_scalars_and_unsupported_types(device):
    with pytest.raises(nl.InvalidArgumentError, match="scalar"):
        nl.asarray(5, queue=device)
    with pytest.raises(nl.InvalidArgumentError, match="scalar"):
        nl.asarray(np.float32(5), queue=device)
    with pytest.raises(nl.InvalidArgumentError, match="1, 2 or 3 dimensions, got 4"):
        nl.asarray(np.zeros((1, 1, 1, 1)), queue=device)
    with pytest.raises(TypeError, match="element format"):
        nl.asarray(np.zeros(3, np.complex64), queue=device)
    for dt in ["float16", "complex128", "U3", "object"]:
        with pytest.raises(TypeError):
            nl.empty(3, dt, queue=device)


def test_shape_validation(device):
    with pytest.raises(nl.InvalidArgumentError, match="negative extent -1"):
        nl.empty(-1, queue=device)
    with pytest.raises(nl.InvalidArgumentError, match="negative extent -2"):
        nl.zeros((3, -2), queue=device)
    with pytest.raises(nl.InvalidArgumentError, match="1, 2 or 3 dimensions, got 4"):
        nl.empty((1, 2, 3, 4), queue=device)
    with pytest.raises(nl.InvalidArgumentError, match="got 0"):
        nl.empty((), queue=device)
    with pytest.raises(TypeError):
        nl.empty((2.0, 3), queue=device)
    with pytest.raises(TypeError):
        nl.empty(True, queue=device)
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        nl.empty(3, order="K", queue=device)


# ---- Orders, shapes and strides ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_c_and_f_order_strides_in_elements(device, shape):
    c = nl.zeros(shape, "int32", queue=device)
    f = nl.zeros(shape, "int32", queue=device, order="F")
    want_c = np.zeros(shape, np.int32)
    want_f = np.asfortranarray(want_c)
    assert c.strides == tuple(s // 4 for s in want_c.strides)
    assert f.strides == tuple(s // 4 for s in want_f.strides)
    assert c.is_c_contiguous
    assert f.is_c_contiguous == (len(shape) == 1)
    assert len(c) == shape[0]


def test_f_order_array_reads_back_in_logical_order(device, K):
    # A kernel writes each element's row-major linear id: the F-order layout must not show.
    f = nl.zeros((3, 4), "int64", queue=device, order="F")
    nl.call_kernel(K.write_ids, nl.Range(3, 4), f)
    np.testing.assert_array_equal(f.to_numpy(), np.arange(12).reshape(3, 4))
    f3 = nl.zeros((2, 3, 4), "int64", queue=device, order="F")
    nl.call_kernel(K.write_ids, nl.Range(2, 3, 4), f3)
    np.testing.assert_array_equal(f3.to_numpy(), np.arange(24).reshape(2, 3, 4))
    # Through DLPack, NumPy sees the F-order strides.
    if device.backend == "cpu":
        v = np.from_dlpack(f)
        assert v.flags.f_contiguous
        np.testing.assert_array_equal(v, np.arange(12).reshape(3, 4))


def test_huge_arrays_raise_out_of_memory(device):
    with pytest.raises(nl.OutOfMemoryError, match="does not fit in memory") as e:
        nl.empty((2**40, 2**30), "float64", queue=device)
    assert e.value.code == "out_of_memory"
    assert isinstance(e.value, MemoryError)
    # Representable but far larger than any device: the allocation itself fails.
    with pytest.raises(MemoryError, match="cannot allocate"):
        nl.empty((2**20, 2**20, 2**4), "float64", queue=device)
    # The queue still works.
    np.testing.assert_array_equal(nl.full(3, 1.0, queue=device).to_numpy(), [1, 1, 1])


def test_repr(device):
    r = repr(nl.zeros((2, 3), "float32", queue=device))
    assert "shape=(2, 3)" in r and "float32" in r and device.filter_string in r


# ---- Indexing ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    np.s_[1], np.s_[-1], np.s_[1:3], np.s_[::-1], np.s_[::2], np.s_[::-2], np.s_[5:1:-1],
    np.s_[1, 2], np.s_[:, 1], np.s_[:, ::-1], np.s_[-1, ::-3], np.s_[...], np.s_[..., 2],
    np.s_[1, ...], np.s_[1, ..., 3], np.s_[::2, ..., ::-1], np.s_[0, 0], np.s_[2:2],
    np.s_[1:, 5:1], np.s_[100:], np.s_[-100:2], np.s_[1, 2, 3], np.s_[-1, -1, -1],
    np.s_[..., 0, 0, 0],
])
def test_slicing_matches_numpy(device, key):
    src = np.arange(3 * 4 * 5, dtype=np.int32).reshape(3, 4, 5)
    a = nl.asarray(src, queue=device)
    got = a[key]
    want = src[key]
    if np.ndim(want) == 0:
        assert isinstance(got, np.generic) and got.dtype == np.int32 and got == want
        return
    assert isinstance(got, nl.Array)
    assert got.shape == want.shape
    assert got.strides == tuple(s // 4 for s in want.strides)
    assert got.queue == a.queue and got.dtype == a.dtype
    np.testing.assert_array_equal(got.to_numpy(), want)


def test_slices_of_slices(device):
    src = np.arange(100, dtype=np.float64).reshape(10, 10)
    a = nl.asarray(src, queue=device)
    got = a[::-1, 2:][1::3, ::-2][..., 1:]
    want = src[::-1, 2:][1::3, ::-2][..., 1:]
    np.testing.assert_array_equal(got.to_numpy(), want)
    assert got[0, 0] == want[0, 0] and got[-1, -1] == want[-1, -1]


def test_indexing_errors(device):
    a = nl.zeros((2, 3), queue=device)
    with pytest.raises(IndexError, match="out of bounds for dimension 0 of extent 2"):
        a[2]
    with pytest.raises(IndexError, match="out of bounds for dimension 1 of extent 3"):
        a[0, -4]
    with pytest.raises(IndexError, match="too many indices"):
        a[0, 0, 0]
    with pytest.raises(IndexError, match="one Ellipsis"):
        a[..., ...]
    with pytest.raises(TypeError, match="integers, slices"):
        a[1.0]
    with pytest.raises(TypeError):
        a[None]
    with pytest.raises(ValueError, match="step cannot be zero"):
        a[::0]


def test_a_slice_shares_memory_with_its_array(device, K):
    a = nl.zeros(10, "int64", queue=device)
    nl.call_kernel(K.write_ids, nl.Range(5), a[::-2])  # a[9] = 0, a[7] = 1, ...
    np.testing.assert_array_equal(a.to_numpy(), [0, 4, 0, 3, 0, 2, 0, 1, 0, 0])
    b = nl.zeros((4, 6), "int64", queue=device)
    nl.call_kernel(K.write_ids, nl.Range(2, 3), b[1::2, ::-2])
    want = np.zeros((4, 6), np.int64)
    want[1::2, ::-2] = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(b.to_numpy(), want)


def test_fill(device):
    a = nl.zeros((3, 4), "float32", queue=device)
    a.fill(2.5)
    np.testing.assert_array_equal(a.to_numpy(), np.full((3, 4), 2.5, np.float32))
    f = nl.zeros((3, 4), "int16", queue=device, order="F")
    f.fill(-3)
    np.testing.assert_array_equal(f.to_numpy(), np.full((3, 4), -3, np.int16))
    # A contiguous slice fills only its part.
    b = nl.asarray(np.arange(8.0), queue=device)
    b[2:5].fill(-1)
    np.testing.assert_array_equal(b.to_numpy(), [0, 1, -1, -1, -1, 5, 6, 7])
    b[4:5, ...].fill(9)
    np.testing.assert_array_equal(b.to_numpy(), [0, 1, -1, -1, 9, 5, 6, 7])


def test_fill_refuses_strided_views(device):
    b = nl.asarray(np.arange(8.0), queue=device)
    for view in (b[::2], b[::-1], nl.zeros((3, 4), queue=device)[:, 1:]):
        with pytest.raises(nl.UnsupportedError, match="strided view"):
            view.fill(-1)
    np.testing.assert_array_equal(b.to_numpy(), np.arange(8.0))  # untouched


# ---- Zero-size arrays ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4), (2, 0, 3)])
def test_zero_size_arrays(device, shape):
    for a in (nl.zeros(shape, queue=device), nl.empty(shape, "int8", queue=device),
              nl.full(shape, 1.0, queue=device), nl.zeros(shape, queue=device, order="F"),
              nl.asarray(np.zeros(shape, np.float32), queue=device)):
        assert a.shape == shape and a.size == 0 and a.nbytes == 0
        h = a.to_numpy()
        assert h.shape == shape and h.dtype == a.dtype
        assert np.asarray(a).shape == shape
        a.fill(3)
        assert a[...].shape == shape
        assert a[::-1].shape == shape
        assert nl.zeros_like(a).shape == shape


def test_slicing_to_zero_size_and_back(device):
    a = nl.asarray(np.arange(12.0).reshape(3, 4), queue=device)
    e = a[:, 3:1]
    assert e.shape == (3, 0) and e.size == 0
    assert e.to_numpy().shape == (3, 0)
    assert e[1:].shape == (2, 0)
    with pytest.raises(IndexError):
        e[0, 0]
