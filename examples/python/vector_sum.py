"""vector_sum: c = a + b over a 1-D Range, the "hello world" of ndlaunch, from Python.

The Python counterpart of examples/vector_sum.cpp (and of numba-dpex's
examples/kernel/vector_sum.py). The kernel is C++ source against the ndl kernel API: it takes
the work-item first, then the arguments; each ndlaunch.Array arrives as an ndl::view (here a
view<float, 1>, which converts to the view<const float, 1> the inputs are declared as). No
queue is named at the launch: it is inferred from the arrays ("compute follows data").

The first launch on a device compiles the kernel for it (the host C++ compiler for the CPU,
NVRTC for a GPU); later launches with the same argument types reuse the compiled code.

Usage: python vector_sum.py [device-filter|all] [n]
  Runs on every device (or those matching the filter, e.g. "cpu", "cuda:0"), checks the
  result against NumPy and prints PASS or FAIL per device; exits non-zero on failure.
"""

import sys
import time

import numpy as np

import ndlaunch as nl

VECTOR_SUM = nl.Kernel(
    """
void vector_sum(ndl::item<1> it, ndl::view<const float, 1> a, ndl::view<const float, 1> b,
                ndl::view<float, 1> c) {
  const ndl::size_t i = it.get_id(0);
  c[i] = a[i] + b[i];
}
""",
    "vector_sum",
)


def run(dev, n):
    """Returns (first launch ms, second launch ms); raises AssertionError on a mismatch."""
    rng = np.random.default_rng(777)
    a_host = rng.random(n, dtype=np.float32)
    b_host = rng.random(n, dtype=np.float32)

    # Arrays on the device's default queue (a Device stands for its default queue).
    a = nl.asarray(a_host, queue=dev)
    b = nl.asarray(b_host, queue=dev)
    c = nl.zeros(n, dtype="float32", queue=dev)

    t0 = time.perf_counter()
    nl.call_kernel(VECTOR_SUM, nl.Range(n), a, b, c)  # compiles for this device first
    t1 = time.perf_counter()
    nl.call_kernel(VECTOR_SUM, nl.Range(n), a, b, c)  # compiled: launch only
    t2 = time.perf_counter()

    # One IEEE single-precision addition per element: NumPy computes the identical value,
    # so the comparison is exact.
    got = c.to_numpy()
    want = a_host + b_host
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = int(bad[0])
        raise AssertionError(f"c[{i}] = {got[i]!r}, expected {want[i]!r} "
                             f"({bad.size} elements differ)")
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3


def main(argv):
    filt = argv[1] if len(argv) > 1 else "all"
    n = int(argv[2]) if len(argv) > 2 else 1 << 20
    devices = nl.devices() if filt == "all" else nl.devices(filt)
    if not devices:
        print(f"vector_sum: no device matches '{filt}'", file=sys.stderr)
        return 2
    failures = 0
    for dev in devices:
        try:
            first_ms, launch_ms = run(dev, n)
            print(f"PASS vector_sum n={n} on {dev.filter_string} ({dev.name}): first launch "
                  f"(with compilation) {first_ms:.1f} ms, launch {launch_ms:.3f} ms")
        except Exception as e:  # noqa: BLE001 - report any failure per device
            failures += 1
            print(f"FAIL vector_sum n={n} on {dev.filter_string} ({dev.name}): {e}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
