"""Error paths: each error class with the C++ runtime's message, and the queue still working
after each error."""

from __future__ import annotations

import numpy as np
import pytest

import ndlaunch as nl

THROWER = """
#include <stdexcept>
template <class V>
void thrower(ndl::item<1> it, V a, long bad) {
  if (long(it.get_id(0)) == bad) throw std::runtime_error("work-item hit the bad index");
  a[it.get_id(0)] += 1;
}
"""


@pytest.fixture(scope="module")
def thrower():
    return nl.Kernel(THROWER, "thrower")


def still_works(queue, K):
    """A launch on `queue` after an error runs and gives the right result."""
    a = nl.asarray(np.arange(64.0), queue=queue)
    nl.call_kernel(K.add1, nl.Range(64), a)
    np.testing.assert_array_equal(a.to_numpy(), np.arange(64.0) + 1)
    _, e = nl.call_kernel_async(K.add1, nl.Range(64), [], a)
    e.wait()
    assert not e.has_error
    queue.wait()
    np.testing.assert_array_equal(a.to_numpy(), np.arange(64.0) + 2)


# ---- Classes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name,extra", [
    ("InvalidRangeError", ValueError),
    ("QueueInferenceError", ValueError),
    ("InvalidArgumentError", ValueError),
    ("UnsupportedError", NotImplementedError),
    ("OutOfMemoryError", MemoryError),
    ("KernelError", None),
    ("DeviceLostError", None),
    ("BackendError", None),
    ("DependencyError", None),
    ("CompileError", None),
])
def test_error_class_hierarchy(name, extra):
    cls = getattr(nl, name)
    assert issubclass(cls, nl.Error) and issubclass(cls, RuntimeError)
    if extra is not None:
        assert issubclass(cls, extra)
    else:
        assert not issubclass(cls, (ValueError, NotImplementedError, MemoryError))
    assert cls.__module__ == "ndlaunch" and cls.__doc__
    assert name in nl.__all__
    # The classes are distinct: catching one does not catch another.
    others = [getattr(nl, n) for n in nl.__all__
              if n.endswith("Error") and n not in ("Error", name)]
    assert not any(issubclass(cls, o) for o in others)


def test_error_base_class():
    assert issubclass(nl.Error, RuntimeError)
    assert nl.Error.__doc__ and "code" in nl.Error.__doc__


# ---- Ranges, arguments, queues ------------------------------------------------------------


def test_invalid_range_then_the_queue_works(queue, K):
    a = nl.zeros(10, queue=queue)
    with pytest.raises(nl.InvalidRangeError, match="extent -3 is negative") as e:
        nl.call_kernel(K.add1, (-3,), a)
    assert e.value.code == "invalid_range"
    with pytest.raises(nl.InvalidRangeError, match="does not divide"):
        nl.call_kernel(K.block_sum, nl.NdRange(10, 4), a, a, nl.LocalAccessor(4, "float64"))
    still_works(queue, K)


def test_local_accessor_needs_an_nd_range(queue, K):
    a = nl.zeros(8, queue=queue)
    with pytest.raises(nl.InvalidArgumentError, match="LocalAccessor argument needs an "
                                                      "NdRange launch") as e:
        nl.call_kernel(K.block_sum, nl.Range(8), a, a, nl.LocalAccessor(8, "float64"))
    assert e.value.code == "invalid_argument" and "block_sum" in str(e.value)
    still_works(queue, K)


def test_arrays_on_different_queues(queue, device, K):
    a = nl.zeros(8, queue=queue)
    b = nl.zeros(8, queue=nl.Queue(device))
    with pytest.raises(nl.QueueInferenceError, match="different queues") as e:
        nl.call_kernel(K.axpy, nl.Range(8), a, b, 1.0)
    assert e.value.code == "queue_inference"
    msg = str(e.value)
    assert "kernel 'axpy'" in msg and "argument 0 on" in msg and "argument 1 on" in msg
    assert "queue=" in msg
    # queue= decides for arrays of one device.
    nl.call_kernel(K.axpy, nl.Range(8), a, nl.full(8, 1.0, queue=device), 2.0, queue=queue)
    np.testing.assert_array_equal(a.to_numpy(), np.full(8, 2.0))
    still_works(queue, K)


@pytest.mark.parametrize("bad,type_name", [
    ("text", "str"), (np.zeros(3), "ndarray"), ([1.0], "list"), (None, "NoneType"),
    (1 + 2j, "complex"), (np.complex64(1), "complex64"),
])
def test_wrong_argument_type(queue, K, bad, type_name):
    a = nl.zeros(4, queue=queue)
    with pytest.raises(TypeError, match=f"kernel 'axpy', argument 1: kernels take "
                                        f"ndlaunch.Array.* not {type_name}"):
        nl.call_kernel(K.axpy, nl.Range(4), a, bad, 1.0)
    still_works(queue, K)


def test_call_kernel_misuse(queue, K):
    a = nl.zeros(4, queue=queue)
    with pytest.raises(TypeError, match="needs an ndlaunch.Kernel"):
        nl.call_kernel(lambda it: None, nl.Range(4), a)
    with pytest.raises(TypeError, match="call_kernel"):
        nl.call_kernel(K.add1)
    with pytest.raises(TypeError, match="call_kernel_async"):
        nl.call_kernel_async(K.add1, nl.Range(4))
    # The only keyword is queue=: anything else names the signature and the keyword passed.
    with pytest.raises(TypeError, match=r"(?s)queue: object \| None = None.*stream"):
        nl.call_kernel(K.add1, nl.Range(4), a, stream=None)
    with pytest.raises(TypeError, match="integers"):
        nl.call_kernel(K.add1, "four", a)
    with pytest.raises(TypeError, match="ndlaunch.Event"):
        nl.call_kernel_async(K.add1, nl.Range(4), ["not an event"], a)
    with pytest.raises(TypeError, match="more than 64 arguments"):
        nl.call_kernel(K.touch, nl.Range(4), *([a] * 65))
    with pytest.raises(ValueError, match="not a C\\+\\+ identifier"):
        nl.Kernel("void f() {}", "not-an-identifier")
    still_works(queue, K)


def test_too_large_array_then_the_queue_works(queue, K):
    with pytest.raises(nl.OutOfMemoryError, match="does not fit in memory") as e:
        nl.zeros((2**31, 2**31, 4), "float64", queue=queue)
    assert e.value.code == "out_of_memory" and isinstance(e.value, MemoryError)
    with pytest.raises(MemoryError, match="cannot allocate"):
        nl.empty((2**47,), "int8", queue=queue)
    still_works(queue, K)


def test_unsupported_operation(queue, K):
    a = nl.zeros(8, queue=queue)
    with pytest.raises(nl.UnsupportedError, match="strided view") as e:
        a[::2].fill(1.0)
    assert e.value.code == "unsupported" and isinstance(e.value, NotImplementedError)
    still_works(queue, K)


# ---- Compilation ---------------------------------------------------------------------------


def test_source_that_does_not_compile(queue, K):
    k = nl.Kernel("""
void broken(ndl::item<1> it, ndl::view<float, 1> a) {
  a[it.get_id(0)] = undefined_thing_xyz;
}""", "broken")
    a = nl.zeros(4, "float32", queue=queue)
    with pytest.raises(nl.CompileError) as e:
        nl.call_kernel(k, nl.Range(4), a)
    msg = str(e.value)
    assert e.value.code == "compile_failure"
    assert "did not compile" in msg or "compile" in msg.lower()
    # The compiler's own diagnostic, located in the kernel's source (named after it).
    assert "undefined_thing_xyz" in msg and "error" in msg and "broken" in msg
    assert k.num_specializations == 0
    # Not cached as a success: the next call fails the same way.
    with pytest.raises(nl.CompileError, match="undefined_thing_xyz"):
        nl.call_kernel(k, nl.Range(4), a)
    still_works(queue, K)


def test_signature_that_does_not_match(queue, K):
    k = nl.Kernel("void only_float(ndl::item<1> it, ndl::view<float, 1> a) "
                  "{ a[it.get_id(0)] = 1; }", "only_float")
    with pytest.raises(nl.CompileError, match="only_float") as e:
        nl.call_kernel(k, nl.Range(4), nl.zeros(4, "float64", queue=queue))
    assert e.value.code == "compile_failure"
    with pytest.raises(nl.CompileError):  # wrong argument count
        nl.call_kernel(K.add1, nl.Range(4), nl.zeros(4, queue=queue), nl.zeros(4, queue=queue))
    with pytest.raises(nl.CompileError):  # Range where the kernel takes an nd_item
        nl.call_kernel(K.nd_ids, nl.Range(4), *[nl.zeros(4, "int64", queue=queue)] * 3)
    a = nl.zeros(4, "float32", queue=queue)
    nl.call_kernel(k, nl.Range(4), a)  # the matching signature compiles and runs
    np.testing.assert_array_equal(a.to_numpy(), np.ones(4))
    still_works(queue, K)


def test_compiler_that_cannot_run(cpu_device, K, monkeypatch):
    monkeypatch.setenv("NDL_CXX", "/nonexistent/c++")
    k = nl.Kernel("void nocc(ndl::item<1> it, ndl::view<float, 1> a) {}", "nocc")
    with pytest.raises(nl.CompileError, match="cannot run the C\\+\\+ compiler"):
        nl.call_kernel(k, nl.Range(1), nl.zeros(1, "float32", queue=cpu_device))
    monkeypatch.delenv("NDL_CXX")
    still_works(nl.Queue(cpu_device), K)


# ---- Kernels failing at run time (CPU: kernels there may throw C++ exceptions) ----------


def test_kernel_that_throws_fails_the_launch(cpu_device, thrower, K):
    q = nl.Queue(cpu_device)
    a = nl.zeros(16, queue=q)
    with pytest.raises(nl.KernelError, match="kernel 'thrower' failed at work-item \\(5\\): "
                                             "work-item hit the bad index") as e:
        nl.call_kernel(thrower, nl.Range(16), a, 5)
    assert e.value.code == "kernel_failure"
    still_works(q, K)
    # The same kernel without the failure runs.
    b = nl.zeros(16, queue=q)
    nl.call_kernel(thrower, nl.Range(16), b, -1)
    np.testing.assert_array_equal(b.to_numpy(), np.ones(16))


def test_failed_async_launch_and_its_dependents(cpu_device, thrower, K):
    q = nl.Queue(cpu_device)
    a = nl.zeros(16, queue=q)
    host, dev = nl.call_kernel_async(thrower, nl.Range(16), [], a, 3)
    with pytest.raises(nl.KernelError, match="thrower"):
        dev.wait()
    assert dev.has_error and dev.is_complete and dev.status == "complete"
    with pytest.raises(nl.KernelError):
        host.wait()
    # A launch depending on the failed one does not run.
    b = nl.zeros(16, queue=q)
    _, dep = nl.call_kernel_async(K.add1, nl.Range(16), [dev], b)
    with pytest.raises(nl.DependencyError, match="kernel 'add1' did not run because a "
                                                 "command it depends on failed") as e:
        dep.wait()
    assert e.value.code == "dependency_failed" and "kernel_failure" in str(e.value)
    assert dep.has_error
    np.testing.assert_array_equal(b.to_numpy(), np.zeros(16))  # add1 never ran
    # A copy depending on it neither.
    with pytest.raises(nl.DependencyError, match="did not run"):
        b.to_numpy(depends=[dev])
    with pytest.raises(nl.KernelError):
        nl.wait([dev, dep])
    still_works(q, K)


def test_queue_wait_raises_an_unwaited_error_once(cpu_device, thrower, K):
    q = nl.Queue(cpu_device)
    a = nl.zeros(16, queue=q)
    nl.call_kernel_async(thrower, nl.Range(16), [], a, 0)
    with pytest.raises(nl.KernelError, match="thrower"):
        q.wait()
    q.wait()  # reported: the queue is clean again
    still_works(q, K)


def test_failure_on_an_out_of_order_queue(cpu_device, thrower, K):
    q = nl.Queue(cpu_device, in_order=False)
    a = nl.zeros(16, queue=q)
    b = nl.zeros(16, queue=q)
    _, bad = nl.call_kernel_async(thrower, nl.Range(16), [], a, 7)
    _, good = nl.call_kernel_async(thrower, nl.Range(16), [], b, -1)
    good.wait()  # independent of the failure
    np.testing.assert_array_equal(b.to_numpy(depends=[good]), np.ones(16))
    with pytest.raises(nl.KernelError):
        bad.wait()
    still_works(q, K)
