"""async_pipeline: a graph of asynchronous launches chained by events, on an out-of-order queue.

The Python counterpart of examples/async_pipeline.cpp (in the spirit of numba-dpex's
examples/kernel/pipelining.py). The input is split into batches; each batch k goes through

    fill y_k = 1 --> kernel A: y_k += c_k * x_k --> kernel B: y_k = 2 y_k - x_k --.
                                                                                   +--> checksum
    (the same for every other batch, independently) ----------------------------'

with every arrow an event dependency (call_kernel_async's `deps`). On an out-of-order queue
only these dependencies order the launches, so the batches may run concurrently; the
checksum (one work-item per batch, summing it) waits for every batch: a fan-in.

call_kernel_async returns (host_event, device_event):
- the device event completes when the kernel has finished: chain the next launch on it;
- the host event completes after that, once the launcher has released the arrays it kept
  alive for the launch.
The script drops its references to every array a launch uses right after submitting it: the
per-batch slices x_k and y_k, the coefficient array c_k (a fresh one-element array per
batch), and finally the input x itself. The launcher keeps their memory alive until the
kernels are done. On CPU devices the coefficient arrays share the memory of NumPy arrays
(ndlaunch.from_dlpack), so the script can also watch them go: once the host events have
completed, every one must have been released (a weak reference to it is dead).

Usage: python async_pipeline.py [device-filter|all] [n [batches]]
  Prints PASS or FAIL per device; exits non-zero on failure.
"""

import sys
import time
import weakref

import numpy as np

import ndlaunch as nl

KERNELS = """
void fill_one(ndl::item<1> it, ndl::view<float, 1> y) { y[it.get_id(0)] = 1.0f; }

// Kernel A: y += c * x, the coefficient read from a one-element array.
void scale_add(ndl::item<1> it, ndl::view<const float, 1> x, ndl::view<float, 1> y,
               ndl::view<const float, 1> coeff) {
  const ndl::size_t i = it.get_id(0);
  y[i] += coeff[0] * x[i];
}

// Kernel B: y = 2 y - x, which needs kernel A's result.
void combine(ndl::item<1> it, ndl::view<const float, 1> x, ndl::view<float, 1> y) {
  const ndl::size_t i = it.get_id(0);
  y[i] = 2.0f * y[i] - x[i];
}

// One work-item per batch: the sum of its elements, in double (exact here).
void checksum(ndl::item<1> it, ndl::view<const float, 1> y, ndl::view<double, 1> sums,
              long batch) {
  const ndl::size_t k = it.get_id(0), n = y.extent(0);
  const ndl::size_t first = k * static_cast<ndl::size_t>(batch);
  const ndl::size_t last = first + static_cast<ndl::size_t>(batch) < n ? first + batch : n;
  double s = 0;
  for (ndl::size_t i = first; i < last; ++i) s += y[i];
  sums[k] = s;
}
"""
FILL_ONE = nl.Kernel(KERNELS, "fill_one")
SCALE_ADD = nl.Kernel(KERNELS, "scale_add")
COMBINE = nl.Kernel(KERNELS, "combine")
CHECKSUM = nl.Kernel(KERNELS, "checksum")


def input_values(n):
    """x(i) = i mod 1000: with at most 1000 batches every value below is an integer under
    2^24, exact in float32 on every device (fused multiply-adds included)."""
    return (np.arange(n) % 1000).astype(np.float32)


def submit(q, x, y, sums, n, batches, watch):
    """Submits the whole graph; returns (the checksum's device event, [host events],
    [device events of the last kernel of each batch])."""
    batch = -(-n // batches)
    host_events, last_events = [], []
    for k, first in enumerate(range(0, n, batch)):
        count = min(batch, n - first)
        # Slices share x's and y's memory and queue, so launches on them infer the queue q.
        xs, ys = x[first:first + count], y[first:first + count]
        r = nl.Range(count)
        h_fill, d_fill = nl.call_kernel_async(FILL_ONE, r, [], ys)
        if watch is not None:  # CPU: a NumPy array we can watch being released
            host_coeff = np.array([k + 1], dtype=np.float32)
            watch.append(weakref.ref(host_coeff))
            coeff = nl.from_dlpack(host_coeff, queue=q)
            del host_coeff
        else:
            coeff = nl.full(1, float(k + 1), dtype="float32", queue=q)
        # Kernel A waits for the fill's device event (not its host event: it needs the fill's
        # result, not the release of its arguments).
        h_a, d_a = nl.call_kernel_async(SCALE_ADD, r, [d_fill], xs, ys, coeff)
        del coeff  # probably before kernel A has even started: the launcher holds it
        h_b, d_b = nl.call_kernel_async(COMBINE, r, [d_a], xs, ys)
        del xs, ys
        host_events += [h_fill, h_a, h_b]
        last_events.append(d_b)
    # The fan-in: one launch after every batch.
    h_sum, d_sum = nl.call_kernel_async(CHECKSUM, nl.Range(len(last_events)), last_events, y,
                                        sums, batch)
    host_events.append(h_sum)
    return d_sum, host_events, last_events, batch


def run(dev, n, batches):
    """Returns the pipeline time in ms; raises AssertionError on a mismatch."""
    if n <= 0 or not 1 <= batches <= 1000:
        raise AssertionError("n must be positive and batches in [1, 1000]")
    q = nl.Queue(dev, in_order=False)
    x_host = input_values(n)
    x = nl.asarray(x_host, queue=q)  # a synchronous copy onto q
    y = nl.empty(n, dtype="float32", queue=q)
    n_batches = -(-n // -(-n // batches))
    sums = nl.zeros(n_batches, dtype="float64", queue=q)
    watch = [] if dev.backend == "cpu" else None

    # Compile the kernels first (a launch over zero work-items compiles and runs nothing),
    # so that the timing below is the pipeline's alone.
    one = x[0:1]  # any float32 vector on q will do: nothing is read or written
    nl.call_kernel(FILL_ONE, nl.Range(0), one)
    nl.call_kernel(SCALE_ADD, nl.Range(0), one, one, one)
    nl.call_kernel(COMBINE, nl.Range(0), one, one)
    nl.call_kernel(CHECKSUM, nl.Range(0), one, sums, 1)
    del one

    t0 = time.perf_counter()
    done, host_events, last_events, batch = submit(q, x, y, sums, n, batches, watch)
    del x  # the input too: the launches hold it until they are done
    done.wait()  # raises the first error of any launch of the graph
    pipeline_ms = (time.perf_counter() - t0) * 1e3

    # Once the host events have completed, every coefficient array has been released.
    nl.wait(host_events)
    if watch is not None:
        alive = [k for k, ref in enumerate(watch) if ref() is not None]
        if alive:
            raise AssertionError(f"the coefficient arrays of batches {alive} are still held "
                                 "after their launches' host events completed")

    # y = 2 (1 + (k + 1) x) - x = 2 + (2k + 1) x for an element of batch k. The queue is out
    # of order: to_numpy must be told which launches to wait for.
    k = (np.arange(n) // batch).astype(np.float32)
    want = np.float32(2) + (np.float32(2) * k + np.float32(1)) * x_host
    got = y.to_numpy(depends=last_events)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = int(bad[0])
        raise AssertionError(f"y[{i}] = {got[i]!r}, expected {want[i]!r} "
                             f"({bad.size} elements differ)")
    want_sums = np.add.reduceat(want.astype(np.float64), np.arange(0, n, batch))
    got_sums = sums.to_numpy()
    if not np.array_equal(got_sums, want_sums):
        k = int(np.flatnonzero(got_sums != want_sums)[0])
        raise AssertionError(f"checksum of batch {k} = {got_sums[k]!r}, expected "
                             f"{want_sums[k]!r}")
    return pipeline_ms, len(last_events), watch


def main(argv):
    filt = argv[1] if len(argv) > 1 else "all"
    n = int(argv[2]) if len(argv) > 2 else 2_000_000
    batches = int(argv[3]) if len(argv) > 3 else 8
    devices = nl.devices() if filt == "all" else nl.devices(filt)
    if not devices:
        print(f"async_pipeline: no device matches '{filt}'", file=sys.stderr)
        return 2
    failures = 0
    for dev in devices:
        desc = f"async_pipeline n={n} in {batches} batches on {dev.filter_string} ({dev.name})"
        try:
            ms, launched, watch = run(dev, n, batches)
            note = (f", {len(watch)} dropped coefficient arrays all released"
                    if watch is not None else "")
            print(f"PASS {desc}: {3 * launched + 1} launches, pipeline {ms:.3f} ms{note}")
        except Exception as e:  # noqa: BLE001 - report any failure per device
            failures += 1
            print(f"FAIL {desc}: {e}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
