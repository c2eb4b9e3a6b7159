"""Devices, filter strings, queues, events and profiling."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ndlaunch as nl
from conftest import ALL_DEVICES, CUDA_DEVICES, NO_CUDA, run_python

# ---- Devices -------------------------------------------------------------------------------


def test_devices_lists_the_cpu_first_and_in_ordinal_order():
    devs = nl.devices()
    assert devs, "ndlaunch lists no device at all"
    assert devs[0].backend == "cpu" and devs[0].kind == "cpu" and devs[0].is_cpu
    assert devs[0].filter_string == "cpu:0"
    cuda = [d.filter_string for d in devs if d.backend == "cuda"]
    assert cuda == [f"cuda:{i}" for i in range(len(cuda))]


def test_device_properties(device):
    assert isinstance(device.name, str) and device.name
    assert device.kind in ("cpu", "gpu")
    assert device.backend in ("cpu", "cuda")
    assert device.is_cpu == (device.kind == "cpu")
    assert device.is_gpu == (device.kind == "gpu")
    assert device.compute_units >= 1
    assert device.max_work_group_size >= 1
    assert device.local_memory_bytes > 0
    assert device.filter_string in repr(device)
    # The filter string selects the device itself: equal, same hash.
    again = nl.Device(device.filter_string)
    assert again == device and hash(again) == hash(device)
    assert device != "not a device"


def test_default_device_is_the_first_gpu_else_the_cpu():
    if os.environ.get("NDL_DEVICE"):
        assert nl.Device() == nl.Device(os.environ["NDL_DEVICE"])
    else:
        assert nl.Device() == (CUDA_DEVICES[0] if CUDA_DEVICES else nl.Device("cpu"))


def test_ndl_device_environment_variable_picks_the_default_device():
    r = run_python("import ndlaunch as nl; print(nl.Device().filter_string)",
                   env={"NDL_DEVICE": "cpu"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cpu:0"


def test_filter_strings_select_by_backend_and_kind():
    assert nl.devices("cpu") == [d for d in ALL_DEVICES if d.is_cpu]
    assert nl.devices("gpu") == [d for d in ALL_DEVICES if d.is_gpu]
    assert nl.devices("cuda") == CUDA_DEVICES
    assert nl.Device("cpu") == nl.devices("cpu")[0]
    assert nl.Device("cpu:0").filter_string == "cpu:0"
    # A list of filters keeps the order of the filters.
    both = nl.devices("gpu,cpu")
    assert both == nl.devices("gpu") + nl.devices("cpu")


def test_gpu_filters_on_a_gpu_machine():
    if not CUDA_DEVICES:
        pytest.skip(NO_CUDA)
    assert nl.Device("gpu") == CUDA_DEVICES[0]
    assert nl.Device("cuda:0").backend == "cuda"
    assert nl.Device("cuda:0").is_gpu


def test_malformed_filter_string_raises_invalid_argument():
    with pytest.raises(nl.InvalidArgumentError, match="malformed device filter 'bogus'") as e:
        nl.Device("bogus")
    assert e.value.code == "invalid_argument"
    assert isinstance(e.value, ValueError) and isinstance(e.value, nl.Error)
    with pytest.raises(nl.InvalidArgumentError, match="malformed device filter"):
        nl.devices("cpu:zero:x:y")


def test_filter_matching_nothing_raises_and_names_what_is_available():
    with pytest.raises(nl.InvalidArgumentError, match="no device matches filter 'cpu:7'") as e:
        nl.Device("cpu:7")
    assert "cpu:0" in str(e.value)
    if not CUDA_DEVICES:
        with pytest.raises(nl.InvalidArgumentError, match="no device matches filter 'gpu'"):
            nl.Device("gpu")


def test_device_rejects_other_types():
    with pytest.raises(TypeError):
        nl.Device(3)


# ---- Queues --------------------------------------------------------------------------------


def test_queue_options(device):
    q = nl.Queue(device)
    assert q.device == device and q.in_order and not q.profiling
    q2 = nl.Queue(device, in_order=False, profiling=True)
    assert not q2.in_order and q2.profiling
    assert q != q2 and q == q and hash(q) == hash(q)
    assert device.filter_string in repr(q2) and "profiling" in repr(q2)
    # A device can be named by its filter string.
    assert nl.Queue(device.filter_string).device == device


def test_default_queue_is_canonical(device):
    assert nl.Queue.default(device) == nl.Queue.default(device)
    assert nl.Queue.default(device.filter_string) == nl.Queue.default(device)
    assert nl.Queue(device) != nl.Queue.default(device)  # a new queue each time
    # Arrays made without queue= land on the default device's default queue.
    assert nl.empty(3).queue == nl.Queue.default()
    assert nl.empty(3, queue=device).queue == nl.Queue.default(device)


def test_in_order_queue_runs_launches_in_submission_order(queue, K):
    a = nl.zeros(1000, queue=queue)
    x = nl.asarray(np.arange(1000.0), queue=queue)
    # Without dependent events, an in-order queue still chains: a = ((0 + x) * 2 ...) etc.
    for _ in range(20):
        nl.call_kernel_async(K.axpy, nl.Range(1000), [], a, x, 1.0)
        nl.call_kernel_async(K.add1, nl.Range(1000), [], a)
    queue.wait()
    np.testing.assert_array_equal(a.to_numpy(), 20 * (np.arange(1000.0) + 1))


def test_out_of_order_queue_with_explicit_dependencies(device, K):
    q = nl.Queue(device, in_order=False)
    assert not q.in_order
    n = 4096
    a = nl.zeros(n, queue=q)
    b = nl.zeros(n, queue=q)
    x = nl.asarray(np.arange(n, dtype=np.float64), queue=q)
    # Two independent chains, each ordered by its events.
    ev_a = ev_b = None
    for _ in range(10):
        _, ev_a = nl.call_kernel_async(K.axpy, nl.Range(n), [ev_a] if ev_a else [], a, x, 1.0)
        _, ev_b = nl.call_kernel_async(K.add1, nl.Range(n), [ev_b] if ev_b else [], b)
    # to_numpy(depends=) orders the copy after the chain's last launch.
    got_a = a.to_numpy(depends=[ev_a])
    got_b = b.to_numpy(depends=ev_b)
    np.testing.assert_array_equal(got_a, 10 * np.arange(n, dtype=np.float64))
    np.testing.assert_array_equal(got_b, np.full(n, 10.0))
    nl.wait([ev_a, ev_b])
    assert ev_a.is_complete and ev_b.is_complete


def test_profiling_timestamps_are_ordered(device, K):
    q = nl.Queue(device, profiling=True)
    a = nl.zeros(1 << 16, queue=q)
    events = [nl.call_kernel_async(K.add1, nl.Range(1 << 16), [], a)[1] for _ in range(3)]
    nl.wait(events)
    for e in events:
        assert 0 < e.profiling_submit <= e.profiling_start <= e.profiling_end
    # In order: each launch starts after the previous one ended, and was submitted in order.
    for prev, nxt in zip(events, events[1:]):
        assert prev.profiling_end <= nxt.profiling_start
        assert prev.profiling_submit <= nxt.profiling_submit
    np.testing.assert_array_equal(a.to_numpy(), np.full(1 << 16, 3.0))


def test_profiling_needs_a_profiling_queue(queue, K):
    a = nl.zeros(8, queue=queue)
    _, e = nl.call_kernel_async(K.add1, nl.Range(8), [], a)
    e.wait()
    with pytest.raises(nl.InvalidArgumentError, match="profiling"):
        e.profiling_start


# ---- Events --------------------------------------------------------------------------------


def test_default_event_is_complete():
    e = nl.Event()
    assert e.status == "complete" and e.is_complete and not e.has_error
    e.wait()
    nl.wait([e, e])
    nl.wait([])
    assert "complete" in repr(e)


def test_event_status_and_wait(queue, K):
    n = 1 << 20
    a = nl.zeros(n, queue=queue)
    host, dev = nl.call_kernel_async(K.add1, nl.Range(n), [], a)
    assert dev.status in ("submitted", "running", "complete")
    assert host.status in ("submitted", "running", "complete")
    dev.wait()
    host.wait()
    assert dev.status == "complete" and dev.is_complete and not dev.has_error
    assert host.is_complete
    assert dev == dev and hash(dev) == hash(dev)
    np.testing.assert_array_equal(a.to_numpy()[[0, n - 1]], [1.0, 1.0])


def test_module_wait_takes_one_event_or_a_list(queue, K):
    a = nl.zeros(16, queue=queue)
    e1 = nl.call_kernel_async(K.add1, nl.Range(16), [], a)[1]
    e2 = nl.call_kernel_async(K.add1, nl.Range(16), e1, a)[1]  # one event, not a list
    nl.wait([e1, e2])
    nl.wait(e2)
    with pytest.raises(TypeError, match="ndlaunch.Event"):
        nl.wait([e1, "e2"])
    np.testing.assert_array_equal(a.to_numpy(), np.full(16, 2.0))
