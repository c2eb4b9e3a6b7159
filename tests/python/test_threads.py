"""Several Python threads launching at once, on a shared queue and on queues of their own."""

from __future__ import annotations

import threading

import numpy as np

import ndlaunch as nl

THREADS = 8


def run_threads(target, n=THREADS):
    """Runs target(i) on n threads started together; re-raises the first failure."""
    errors = []
    start = threading.Barrier(n)

    def body(i):
        try:
            start.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a launching thread hangs"
    if errors:
        raise errors[0]


def test_threads_sharing_one_queue(device, K):
    q = nl.Queue(device)
    n = 10000
    results = {}

    def work(i):
        a = nl.zeros(n, queue=q)
        x = nl.full(n, float(i), queue=q)
        for _ in range(25):
            nl.call_kernel(K.axpy, nl.Range(n), a, x, 1.0)  # sync
            nl.call_kernel_async(K.add1, nl.Range(n), [], a)  # async, in order after it
        results[i] = a.to_numpy()

    run_threads(work)
    q.wait()
    for i in range(THREADS):
        np.testing.assert_array_equal(results[i], np.full(n, 25.0 * (i + 1)), err_msg=str(i))


def test_threads_with_their_own_queues(device, K):
    n = 4096
    results = {}

    def work(i):
        q = nl.Queue(device, in_order=(i % 2 == 0))
        a = nl.zeros(n, queue=q)
        last = None
        for _ in range(50):
            _, last = nl.call_kernel_async(K.add1, nl.Range(n), [last] if last else [], a)
        ids = nl.zeros((16, 16), "int64", queue=q)
        _, e = nl.call_kernel_async(K.write_ids, nl.Range(16, 16), [last], ids)
        results[i] = (a.to_numpy(depends=[e]), ids.to_numpy(depends=[e]))

    run_threads(work)
    for i in range(THREADS):
        a, ids = results[i]
        np.testing.assert_array_equal(a, np.full(n, 50.0))
        np.testing.assert_array_equal(ids, np.arange(256).reshape(16, 16))


def test_threads_updating_one_array_with_atomics(device, K):
    q = nl.Queue(device)
    bins = 8
    hist = nl.zeros(bins, "int32", queue=q)
    total = nl.zeros(1, "float64", queue=q)
    data = np.arange(1000) % bins

    def work(i):
        d = nl.asarray(data, queue=q)
        for _ in range(10):
            nl.call_kernel(K.hist_sum, nl.Range(1000), d, hist, total)

    run_threads(work)
    np.testing.assert_array_equal(hist.to_numpy(),
                                  THREADS * 10 * np.bincount(data, minlength=bins))
    assert total.to_numpy()[0] == THREADS * 10 * data.sum()


def test_threads_waiting_on_each_others_events(device, K):
    q = nl.Queue(device, in_order=False)
    a = nl.zeros(1 << 16, queue=q)
    _, first = nl.call_kernel_async(K.add1, nl.Range(1 << 16), [], a)
    seen = {}

    def work(i):
        first.wait()
        seen[i] = first.is_complete

    run_threads(work)
    assert all(seen.values()) and len(seen) == THREADS
    np.testing.assert_array_equal(a.to_numpy(depends=first), np.ones(1 << 16))
