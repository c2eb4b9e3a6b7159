"""Launches: Range and NdRange (validation, 1 to 3 dimensions), local memory and barriers,
atomics, scalar arguments, compute follows data and queue=, and the devices agreeing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ndlaunch as nl
from conftest import ALL_DEVICES, DTYPES

# ---- Index spaces --------------------------------------------------------------------------


def test_range_properties():
    r = nl.Range(2, 3, 4)
    assert r.shape == (2, 3, 4) and r.ndim == 3 and r.size == 24
    assert repr(r) == "Range(2, 3, 4)"
    assert nl.Range(5).shape == (5,) and nl.Range((5, 6)).shape == (5, 6)
    assert nl.Range([7]).shape == (7,)
    assert nl.Range(0).size == 0 and nl.Range(3, 0).size == 0


def test_range_validation():
    with pytest.raises(nl.InvalidRangeError, match="extent -1 is negative") as e:
        nl.Range(-1)
    assert e.value.code == "invalid_range" and isinstance(e.value, ValueError)
    with pytest.raises(nl.InvalidRangeError, match="extent -5 is negative"):
        nl.Range(3, -5)
    with pytest.raises(nl.InvalidRangeError, match="1, 2 or 3 dimensions, got 4"):
        nl.Range(1, 2, 3, 4)
    with pytest.raises(nl.InvalidRangeError, match="got 0"):
        nl.Range()
    with pytest.raises(TypeError, match="integers"):
        nl.Range(2.5)
    with pytest.raises(TypeError, match="integers"):
        nl.Range(True)


def test_nd_range_properties():
    r = nl.NdRange((8, 6), (4, 3))
    assert r.global_range == (8, 6) and r.local_range == (4, 3) and r.ndim == 2
    assert repr(r) == "NdRange((8, 6), (4, 3))"
    assert nl.NdRange(16, 4).global_range == (16,)
    assert nl.NdRange(global_range=(2, 2, 2), local_range=(1, 2, 1)).ndim == 3


def test_nd_range_validation():
    with pytest.raises(nl.InvalidRangeError, match=r"local range \{3\} does not divide global "
                                                   r"range \{10\} in dimension 0"):
        nl.NdRange(10, 3)
    with pytest.raises(nl.InvalidRangeError, match="does not divide .* in dimension 1"):
        nl.NdRange((8, 9), (4, 2))
    with pytest.raises(nl.InvalidRangeError, match="zero extent in dimension 0"):
        nl.NdRange(10, 0)
    with pytest.raises(nl.InvalidRangeError, match="global range has 2 dimensions and the "
                                                   "local range 1"):
        nl.NdRange((10, 10), 5)
    with pytest.raises(nl.InvalidRangeError, match="extent -4 is negative"):
        nl.NdRange(8, -4)
    with pytest.raises(nl.InvalidRangeError, match="1, 2 or 3 dimensions"):
        nl.NdRange((1, 1, 1, 1), (1, 1, 1, 1))


def test_work_group_larger_than_the_device_allows(device, K):
    too_big = device.max_work_group_size * 2
    a = nl.zeros(too_big, "int64", queue=device)
    with pytest.raises(nl.InvalidRangeError, match=f"exceeds the maximum "
                                                   f"{device.max_work_group_size}"):
        nl.call_kernel(K.nd_ids, nl.NdRange(too_big, too_big), a, a, a)
    # The queue still runs launches.
    nl.call_kernel(K.write_ids, nl.Range(too_big), a)
    np.testing.assert_array_equal(a.to_numpy(), np.arange(too_big))


# ---- Range launches ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (1000,), (7, 13), (3, 1, 257), (4, 5, 6)])
def test_range_launch_writes_row_major_ids(device, K, shape):
    a = nl.full(shape, -1, "int64", queue=device)
    nl.call_kernel(K.write_ids, nl.Range(*shape), a)
    np.testing.assert_array_equal(a.to_numpy(), np.arange(np.prod(shape)).reshape(shape))


def test_index_space_as_int_or_tuple(device, K):
    a = nl.full((3, 4), -1, "int64", queue=device)
    nl.call_kernel(K.write_ids, (3, 4), a)
    np.testing.assert_array_equal(a.to_numpy(), np.arange(12).reshape(3, 4))
    b = nl.zeros(5, queue=device)
    nl.call_kernel(K.add1, 5, b)
    np.testing.assert_array_equal(b.to_numpy(), np.ones(5))


def test_a_smaller_range_touches_only_its_part(device, K):
    a = nl.full((4, 6), -1, "int64", queue=device)
    nl.call_kernel(K.write_ids, nl.Range(2, 3), a)
    want = np.full((4, 6), -1)
    want[:2, :3] = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(a.to_numpy(), want)


def test_zero_size_launches(device, K):
    for shape in [(0,), (3, 0), (0, 2, 2)]:
        a = nl.zeros(shape, "int64", queue=device)
        nl.call_kernel(K.write_ids, nl.Range(*shape), a)
        h, d = nl.call_kernel_async(K.write_ids, nl.Range(*shape), [], a)
        nl.wait([h, d])
        assert d.is_complete and not d.has_error
        assert a.to_numpy().shape == shape
    e = nl.zeros(0, queue=device)
    nl.call_kernel(K.add1, nl.Range(0), e)
    nl.call_kernel(K.add1, 0, e)
    # An empty NdRange is a no-op too.
    z = nl.zeros(0, "int64", queue=device)
    nl.call_kernel(K.nd_ids, nl.NdRange(0, 4), z, z, z)
    # Launching over nothing leaves a bigger array alone.
    b = nl.zeros(4, queue=device)
    nl.call_kernel(K.add1, nl.Range(0), b)
    np.testing.assert_array_equal(b.to_numpy(), np.zeros(4))


def test_every_dtype_as_a_kernel_array(device, K):
    # One launch with an array of each element type: each element += 1.
    hosts = [(np.arange(6) % 4).astype(dt) for dt in DTYPES]
    arrays = [nl.asarray(h, queue=device) for h in hosts]
    nl.call_kernel(K.touch, nl.Range(6), *arrays)
    for dt, h, a in zip(DTYPES, hosts, arrays):
        got = a.to_numpy()
        assert got.dtype == np.dtype(dt)
        want = (h.astype(np.int64) + 1).astype(dt) if dt != "bool" else np.ones(6, bool)
        np.testing.assert_array_equal(got, want, err_msg=dt)


# ---- NdRange launches ----------------------------------------------------------------------


@pytest.mark.parametrize("global_range,local_range", [
    ((16,), (4,)), ((12,), (12,)), ((6, 8), (3, 2)), ((4, 6, 8), (2, 3, 4)), ((2, 2, 2), (1, 1, 1)),
])
def test_nd_range_ids(device, K, global_range, local_range):
    arrays = [nl.full(global_range, -1, "int64", queue=device) for _ in range(3)]
    nl.call_kernel(K.nd_ids, nl.NdRange(global_range, local_range), *arrays)
    glin, grp, loc = (a.to_numpy() for a in arrays)
    g = np.array(global_range)
    lr = np.array(local_range)
    ids = np.stack(np.meshgrid(*[np.arange(n) for n in global_range], indexing="ij"), axis=-1)
    np.testing.assert_array_equal(glin, np.arange(g.prod()).reshape(global_range))
    group_ids = ids // lr
    local_ids = ids % lr
    np.testing.assert_array_equal(grp, np.ravel_multi_index(np.moveaxis(group_ids, -1, 0),
                                                            tuple(g // lr)))
    np.testing.assert_array_equal(loc, np.ravel_multi_index(np.moveaxis(local_ids, -1, 0),
                                                            tuple(lr)))


@pytest.mark.parametrize("group", [1, 2, 64, 256])
def test_tree_reduction_in_local_memory(device, K, group):
    n = 1024
    data = (np.arange(n, dtype=np.int64) * 7919) % 1000 - 500
    x = nl.asarray(data, queue=device)
    out = nl.full(n // group, -1, "int64", queue=device)
    nl.call_kernel(K.block_sum, nl.NdRange(n, group), x, out,
                   nl.LocalAccessor(group, "int64"))
    np.testing.assert_array_equal(out.to_numpy(), data.reshape(-1, group).sum(axis=1))


def test_tile_flip_with_2d_local_memory(device, K):
    src = np.arange(8 * 12, dtype=np.float32).reshape(8, 12)
    x = nl.asarray(src, queue=device)
    out = nl.zeros((8, 12), "float32", queue=device)
    nl.call_kernel(K.tile_flip, nl.NdRange((8, 12), (4, 3)), x, out,
                   nl.LocalAccessor((4, 3), "float32"))
    want = src.reshape(2, 4, 4, 3)[:, ::-1, :, ::-1].reshape(8, 12)
    np.testing.assert_array_equal(out.to_numpy(), want)


def test_local_accessor_properties():
    la = nl.LocalAccessor((2, 3), "float64")
    assert la.shape == (2, 3) and la.dtype == np.float64
    assert nl.LocalAccessor(4).dtype == np.float32
    with pytest.raises(nl.InvalidArgumentError, match="at least one element"):
        nl.LocalAccessor(0, "float32")
    with pytest.raises(nl.InvalidRangeError, match="negative"):
        nl.LocalAccessor(-1, "float32")
    with pytest.raises(TypeError):
        nl.LocalAccessor(4, "complex64")


def test_too_much_local_memory(device, K):
    a = nl.zeros(8, "int64", queue=device)
    huge = device.local_memory_bytes // 8 + 1
    with pytest.raises(nl.InvalidArgumentError, match="bytes of local memory per work-group"):
        nl.call_kernel(K.block_sum, nl.NdRange(8, 8), a, a, nl.LocalAccessor(huge, "int64"))
    nl.call_kernel(K.block_sum, nl.NdRange(8, 8), nl.asarray(np.arange(8), queue=device), a,
                   nl.LocalAccessor(8, "int64"))
    assert a.to_numpy()[0] == 28


# ---- Atomics -------------------------------------------------------------------------------


def test_device_atomics_histogram_and_sum(device, K):
    n, bins = 1 << 16, 16
    data = (np.arange(n, dtype=np.int64) * 2654435761) % bins
    d = nl.asarray(data, queue=device)
    hist = nl.zeros(bins, "int32", queue=device)
    total = nl.zeros(1, "float64", queue=device)
    nl.call_kernel(K.hist_sum, nl.Range(n), d, hist, total)
    np.testing.assert_array_equal(hist.to_numpy(), np.bincount(data, minlength=bins))
    assert total.to_numpy()[0] == data.sum()  # integers: exact in any order


def test_local_memory_atomics(device, K):
    out = nl.zeros(64, "float32", queue=device)
    nl.call_kernel(K.local_atomic, nl.NdRange(64, 32), out, nl.LocalAccessor(1, "float32"))
    np.testing.assert_array_equal(out.to_numpy(), np.full(64, 160.0, np.float32))


# ---- Scalars -------------------------------------------------------------------------------

# value, the type code the kernel must see (see SOURCES["scalars"])
SCALARS = [
    (True, 1), (-(2**40), 164), (2.5, 1164),
    (np.bool_(True), 1), (np.int8(-5), 108), (np.int16(-30000), 116),
    (np.int32(-2 * 10**9), 132), (np.int64(-(2**62)), 164), (np.uint8(250), 8),
    (np.uint16(60000), 16), (np.uint32(4 * 10**9), 32), (np.uint64(2**63 + 2**11), 64),
    (np.float32(0.25), 1132), (np.float64(-1e300), 1164),
]


def test_scalars_keep_their_types(device, K):
    n = len(SCALARS)
    values = nl.zeros(n, queue=device)
    codes = nl.zeros(n, queue=device)
    nl.call_kernel(K.scalars, nl.Range(4), values, codes, *[v for v, _ in SCALARS])
    np.testing.assert_array_equal(codes.to_numpy(), [c for _, c in SCALARS])
    np.testing.assert_array_equal(values.to_numpy(), [float(v) for v, _ in SCALARS])


def test_scalar_type_selects_the_specialisation(device, K):
    k = nl.Kernel(K.axpy.source, "axpy")  # its own specialisations, the shared image cache
    y = nl.zeros(4, "float32", queue=device)
    x = nl.asarray(np.arange(4, dtype=np.float32), queue=device)
    nl.call_kernel(k, nl.Range(4), y, x, 2.0)  # double
    nl.call_kernel(k, nl.Range(4), y, x, np.float32(0.5))  # float
    nl.call_kernel(k, nl.Range(4), y, x, np.float64(1.0))  # double again: no new one
    nl.call_kernel(k, nl.Range(4), y, x, 1)  # long
    nl.call_kernel(k, nl.Range(4), y, x, np.int64(1))  # long again
    assert k.num_specializations == 3
    np.testing.assert_array_equal(y.to_numpy(), np.arange(4) * 5.5)


def test_integer_scalars_out_of_int64_range(device, K):
    y = nl.zeros(2, "uint64", queue=device)
    with pytest.raises(TypeError, match="does not fit int64"):
        nl.call_kernel(K.axpy, nl.Range(2), y, y, 2**64 - 1)
    nl.call_kernel(K.axpy, nl.Range(2), y, nl.full(2, 1, "uint64", queue=device),
                   np.uint64(2**64 - 1))
    np.testing.assert_array_equal(y.to_numpy(), np.full(2, 2**64 - 1, np.uint64))


# ---- Queues of launches --------------------------------------------------------------------


def test_compute_follows_data(device, K):
    q = nl.Queue(device, profiling=True)
    a = nl.zeros(8, queue=q)
    # The launch runs on the array's queue: its events come from the profiling queue.
    _, e = nl.call_kernel_async(K.add1, nl.Range(8), [], a)
    e.wait()
    assert e.profiling_end >= e.profiling_start > 0
    np.testing.assert_array_equal(a.to_numpy(), np.ones(8))


def test_queue_keyword_overrides_the_arrays_queue(device, K):
    a = nl.zeros(8, queue=device)
    q = nl.Queue(device, profiling=True)
    _, e = nl.call_kernel_async(K.add1, nl.Range(8), [], a, queue=q)
    e.wait()
    assert e.profiling_end > 0  # ran on q
    nl.call_kernel(K.add1, nl.Range(8), a, queue=device.filter_string)
    nl.call_kernel(K.add1, nl.Range(8), a, queue=device)
    np.testing.assert_array_equal(a.to_numpy(), np.full(8, 3.0))


def test_array_on_another_device_than_the_queue(device, K):
    others = [d for d in ALL_DEVICES if d != device]
    if not others:
        pytest.skip("a single device: no other device to put an array on")
    a = nl.zeros(8, queue=others[0])
    with pytest.raises(nl.InvalidArgumentError, match="argument 0 is an array on"):
        nl.call_kernel(K.add1, nl.Range(8), a, queue=device)


# ---- The devices agree ---------------------------------------------------------------------


def test_devices_agree_with_each_other_and_with_numpy(K):
    """The same launches on every device: results equal NumPy's (within float rounding where
    the summation order is the device's) and each other's."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(4096).astype(np.float32)
    ints = rng.integers(0, 32, 4096)
    results = {}
    for dev in ALL_DEVICES:
        r = {}
        xa = nl.asarray(x, queue=dev)
        sums = nl.zeros(4096 // 128, "float32", queue=dev)
        nl.call_kernel(K.block_sum, nl.NdRange(4096, 128), xa, sums,
                       nl.LocalAccessor(128, "float32"))
        r["block_sum"] = sums.to_numpy()
        y = nl.asarray(x[::-1].copy(), queue=dev)
        nl.call_kernel(K.axpy, nl.Range(4096), y, xa, np.float32(3))
        r["axpy"] = y.to_numpy()
        hist = nl.zeros(32, "int32", queue=dev)
        tot = nl.zeros(1, "float64", queue=dev)
        nl.call_kernel(K.hist_sum, nl.Range(4096), nl.asarray(ints, queue=dev), hist, tot)
        r["hist"] = hist.to_numpy()
        r["total"] = tot.to_numpy()
        ids = nl.zeros((4, 6, 8), "int64", queue=dev)
        nl.call_kernel(K.write_ids, nl.Range(4, 6, 8), ids)
        r["ids"] = ids.to_numpy()
        results[dev.filter_string] = r
    want = {
        "block_sum": x.reshape(-1, 128).sum(axis=1, dtype=np.float64),
        "axpy": np.float32(3) * x + x[::-1],
        "hist": np.bincount(ints, minlength=32),
        "total": [ints.sum()],
        "ids": np.arange(4 * 6 * 8).reshape(4, 6, 8),
    }
    for name, r in results.items():
        np.testing.assert_allclose(r["block_sum"], want["block_sum"], rtol=1e-5, atol=1e-4,
                                   err_msg=name)
        np.testing.assert_allclose(r["axpy"], want["axpy"], rtol=1e-6, atol=1e-6, err_msg=name)
        for key in ("hist", "total", "ids"):
            np.testing.assert_array_equal(r[key], want[key], err_msg=f"{name}: {key}")
    for (n1, r1), (n2, r2) in itertools.combinations(results.items(), 2):
        np.testing.assert_allclose(r1["block_sum"], r2["block_sum"], rtol=1e-5, atol=1e-4,
                                   err_msg=f"{n1} vs {n2}")
        np.testing.assert_allclose(r1["axpy"], r2["axpy"], rtol=1e-6, atol=1e-6,
                                   err_msg=f"{n1} vs {n2}")
        np.testing.assert_array_equal(r1["hist"], r2["hist"])
