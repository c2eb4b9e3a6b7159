"""Lifetimes: launches keep what they use alive after Python lets go of it, long chains with
only the last event kept, and the interpreter exiting with work in flight."""

from __future__ import annotations

import gc
import os
import textwrap

import numpy as np
import pytest

import ndlaunch as nl
from conftest import SOURCES, run_python

N = 1 << 20


def test_dropping_everything_after_an_async_launch(cpu_device, K):
    # Results land in NumPy memory shared through DLPack: nothing of ndlaunch's is kept.
    q = nl.Queue(cpu_device)
    host = np.zeros(N)
    y = nl.from_dlpack(host, queue=q)
    x = nl.asarray(np.arange(N, dtype=np.float64), queue=q)
    kernel = nl.Kernel(SOURCES["axpy"], "axpy")  # a new object; its image is cached
    for _ in range(3):
        h, d = nl.call_kernel_async(kernel, nl.Range(N), [], y, x, 2.0)
    del y, x, kernel, h, d
    gc.collect()
    q.wait()
    np.testing.assert_array_equal(host, 6.0 * np.arange(N))


def test_dropping_arrays_and_events_then_rereading_a_kept_one(device, K):
    q = nl.Queue(device)
    kept = nl.zeros(N, queue=q)
    for i in range(4):
        tmp = nl.full(N, float(i + 1), queue=q)  # a temporary for each launch
        kernel = nl.Kernel(SOURCES["axpy"], "axpy")
        events = nl.call_kernel_async(kernel, nl.Range(N), [], kept, tmp, 1.0)
        del tmp, kernel, events
        gc.collect()
    q.wait()
    np.testing.assert_array_equal(kept.to_numpy()[[0, N // 2, N - 1]], [10.0, 10.0, 10.0])


def test_long_chain_with_only_the_last_event_kept(device, K):
    q = nl.Queue(device, in_order=False)  # only the events order the chain
    a = nl.zeros(4096, queue=q)
    last = None
    for _ in range(300):
        _, last = nl.call_kernel_async(K.add1, nl.Range(4096), [last] if last else [], a)
    gc.collect()
    last.wait()
    np.testing.assert_array_equal(a.to_numpy(depends=[last]), np.full(4096, 300.0))


def test_dependent_events_outlive_their_python_objects(device, K):
    q = nl.Queue(device, in_order=False)
    a = nl.zeros(256, queue=q)
    b = nl.zeros(256, queue=q)
    _, first = nl.call_kernel_async(K.add1, nl.Range(256), [], a)
    _, second = nl.call_kernel_async(K.axpy, nl.Range(256), [first], b, a, 3.0)
    del first
    gc.collect()
    second.wait()
    np.testing.assert_array_equal(b.to_numpy(depends=second), np.full(256, 3.0))


def test_arrays_dropped_while_a_launch_reads_them(device, K):
    q = nl.Queue(device)
    out = nl.zeros(N, queue=q)
    for _ in range(3):
        src = nl.asarray(np.ones(N), queue=q)
        nl.call_kernel_async(K.axpy, nl.Range(N), [], out, src, 1.0)
        del src  # the launch still reads it
        gc.collect()
        # New allocations would reuse the memory if it had been freed early.
        junk = nl.full(N, -100.0, queue=q)
        del junk
    q.wait()
    np.testing.assert_array_equal(out.to_numpy()[[0, N - 1]], [3.0, 3.0])


EXIT_WITH_WORK_IN_FLIGHT = """
import numpy as np, ndlaunch as nl
k = nl.Kernel({src!r}, "axpy")
q = nl.Queue(nl.Device({dev!r}))
n = 1 << 20
y = nl.zeros(n, queue=q)
x = nl.full(n, 1.0, queue=q)
shared = np.from_dlpack(nl.zeros(8, queue="cpu"))  # an export alive at exit
imported = nl.from_dlpack(np.zeros(8))  # an import alive at exit
events = [nl.call_kernel_async(k, nl.Range(n), [], y, x, 1.0) for _ in range(200)]
for _ in range(50):
    t = nl.full(n, 2.0, queue=q)
    nl.call_kernel_async(k, nl.Range(n), [], y, t, 1.0)
print("submitted", flush=True)
"""


@pytest.mark.slow
def test_interpreter_exits_cleanly_with_work_in_flight(device, K, tmp_path):
    # Warm the disk cache so the child does not spend its time compiling.
    cache = str(tmp_path / "cache")
    warm = nl.Kernel(SOURCES["axpy"], "axpy", cache_dir=cache)
    a = nl.zeros(4, queue=device)
    nl.call_kernel(warm, nl.Range(4), a, a, 1.0)
    code = EXIT_WITH_WORK_IN_FLIGHT.format(src=SOURCES["axpy"], dev=device.filter_string)
    r = run_python(code, env={"NDLAUNCH_CACHE_DIR": cache})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "submitted"
    assert "leaked" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stderr == "", r.stderr


@pytest.mark.slow
def test_interpreter_exits_cleanly_after_a_failed_launch_nobody_waited_for(cpu_device,
                                                                            tmp_path):
    code = textwrap.dedent("""
        import ndlaunch as nl
        k = nl.Kernel('''
        #include <stdexcept>
        void fails(ndl::item<1> it, ndl::view<double, 1> a) { throw std::runtime_error("x"); }
        ''', "fails")
        nl.call_kernel_async(k, nl.Range(10), [], nl.zeros(10, queue="cpu"))
        print("submitted", flush=True)
        """)
    r = run_python(code, env={"NDLAUNCH_CACHE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "submitted"
    assert "Traceback" not in r.stderr and "leaked" not in r.stderr, r.stderr
    # The runtime says an error went unobserved; that is all.
    assert os.linesep.join(r.stderr.splitlines()).count("kernel 'fails'") <= 1
