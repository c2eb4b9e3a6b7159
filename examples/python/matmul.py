"""matmul: result = X @ Y with a tiled NdRange kernel staging tiles in local memory.

The Python counterpart of examples/matmul.cpp (numba-dpex's examples/kernel/matmul.py, the
sliding-window matmul): each work-item computes one element of the result. Work-groups are
square (T x T); for each tile along the inner dimension a group loads one T x T tile of X and
one of Y into two LocalAccessors, waits at a barrier (ndl::group_barrier), accumulates T
products from local memory, and waits again before the next tile overwrites them.

The global range may be larger than the result (the result's shape rounded up to a multiple
of T): every load and the store are guarded, and out-of-range work-items load zeros but still
reach every barrier. To prove the guards, X and Y are slices of larger arrays whose extra
elements are NaN (an unguarded load would poison the result) and the result is a slice of a
larger array whose extra elements hold a sentinel (an unguarded store would overwrite it).

Cases, each checked against NumPy:
  1. numba-dpex's: X = Y = arange(25).reshape(5, 5) (float32), NdRange((6, 6), (2, 2)); also
     compared exactly with the result numba-dpex prints (small integers).
  2. 256 x 256 @ 256 x 256 random floats, 16 x 16 tiles (global range = result shape).
  3. 250 x 300 @ 300 x 200 random floats, 16 x 16 tiles, global range (256, 208).

Usage: python matmul.py [device-filter|all]
  Prints PASS or FAIL per device and case; exits non-zero on failure.
"""

import sys
import time

import numpy as np

import ndlaunch as nl

MATMUL = nl.Kernel(
    """
void matmul(ndl::nd_item<2> it, ndl::view<const float, 2> a, ndl::view<const float, 2> b,
            ndl::local_accessor<float, 2> a_tile, ndl::local_accessor<float, 2> b_tile,
            ndl::view<float, 2> out) {
  const ndl::size_t n_rows = a.extent(0), n_inner = a.extent(1), n_cols = b.extent(1);
  const ndl::size_t t = it.get_local_range(0);  // square work-groups: t x t
  const ndl::size_t row = it.get_global_id(0), col = it.get_global_id(1);
  const ndl::size_t lr = it.get_local_id(0), lc = it.get_local_id(1);
  const auto g = it.get_group();

  float acc = 0.0f;
  for (ndl::size_t k0 = 0; k0 < n_inner; k0 += t) {
    // Each work-item loads one element of each tile; outside the operands it loads zero.
    a_tile(lr, lc) = (row < n_rows && k0 + lc < n_inner) ? a(row, k0 + lc) : 0.0f;
    b_tile(lr, lc) = (k0 + lr < n_inner && col < n_cols) ? b(k0 + lr, col) : 0.0f;
    ndl::group_barrier(g);  // the tiles are complete
    for (ndl::size_t k = 0; k < t; ++k)
      acc += a_tile(lr, k) * b_tile(k, lc);
    ndl::group_barrier(g);  // all have read the tiles before the next ones are loaded
  }
  if (row < n_rows && col < n_cols) out(row, col) = acc;
}
""",
    "matmul",
)

# The result numba-dpex's matmul.py prints for X = Y = arange(25).reshape(5, 5).
NUMBA_DPEX_RESULT = np.array([[150, 160, 170, 180, 190],
                              [400, 435, 470, 505, 540],
                              [650, 710, 770, 830, 890],
                              [900, 985, 1070, 1155, 1240],
                              [1150, 1260, 1370, 1480, 1590]], dtype=np.float32)

SENTINEL = np.float32(-12345.0)

# (what, rows, inner, cols, tile, numba-dpex's inputs)
CASES = [
    ("numba-dpex", 5, 5, 5, 2, True),
    ("random", 256, 256, 256, 16, False),
    ("random", 250, 300, 200, 16, False),
]


def round_up(n, m):
    return (n + m - 1) // m * m


def space_of(rows, cols, tile, arange):
    """numba-dpex's case names its global range; the others round the result's shape up."""
    g = (6, 6) if arange else (round_up(rows, tile), round_up(cols, tile))
    return nl.NdRange(g, (tile, tile))


def padded(host, shape, fill, dev):
    """A `shape` array on `dev` holding `host` in its top-left corner and `fill` elsewhere."""
    big = np.full(shape, fill, dtype=np.float32)
    big[:host.shape[0], :host.shape[1]] = host
    return nl.asarray(big, queue=dev)


def run(dev, rows, inner, cols, tile, arange):
    """Returns the launch time in ms; raises AssertionError on a mismatch."""
    if arange:
        x_host = np.arange(rows * inner, dtype=np.float32).reshape(rows, inner)
        y_host = np.arange(inner * cols, dtype=np.float32).reshape(inner, cols)
    else:
        rng = np.random.default_rng(777)
        x_host = rng.uniform(-1, 1, (rows, inner)).astype(np.float32)
        y_host = rng.uniform(-1, 1, (inner, cols)).astype(np.float32)

    space = space_of(rows, cols, tile, arange)
    g_rows, g_cols = space.global_range
    inner_padded = round_up(inner, tile)

    # X, Y and the result are slices (views sharing memory) of larger arrays: NaN around the
    # operands, a sentinel around the result.
    x_block = padded(x_host, (g_rows, inner_padded), np.nan, dev)
    y_block = padded(y_host, (inner_padded, g_cols), np.nan, dev)
    result_block = padded(np.empty((0, 0), np.float32), (g_rows, g_cols), SENTINEL, dev)
    x = x_block[:rows, :inner]
    y = y_block[:inner, :cols]
    result = result_block[:rows, :cols]

    # X_slm and Y_slm of numba-dpex: one tile of each operand per work-group.
    x_tile = nl.LocalAccessor((tile, tile), "float32")
    y_tile = nl.LocalAccessor((tile, tile), "float32")

    nl.call_kernel(MATMUL, space, x, y, x_tile, y_tile, result)  # compiles on first use
    t0 = time.perf_counter()
    nl.call_kernel(MATMUL, space, x, y, x_tile, y_tile, result)
    launch_ms = (time.perf_counter() - t0) * 1e3

    got = result_block.to_numpy()
    outside = np.ones(got.shape, dtype=bool)
    outside[:rows, :cols] = False
    if np.any(got[outside] != SENTINEL):
        i, j = np.argwhere(outside & (got != SENTINEL))[0]
        raise AssertionError(f"element ({i}, {j}) outside the {rows} x {cols} result was "
                             f"overwritten with {got[i, j]!r}")
    got = got[:rows, :cols]
    # The kernel sums in float32 (a GPU may fuse multiply-adds): it lies within
    # inner * 2^-24 * sum|x_ik * y_kj| of the exact product, which float64 approximates
    # closely; allow twice that.
    want = x_host.astype(np.float64) @ y_host.astype(np.float64)
    magnitude = np.abs(x_host.astype(np.float64)) @ np.abs(y_host.astype(np.float64))
    tol = 2.0 * inner * np.ldexp(magnitude, -24)
    bad = ~(np.abs(got - want) <= tol)  # NaN fails too
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AssertionError(f"result({i}, {j}) = {got[i, j]!r}, NumPy computes "
                             f"{want[i, j]!r} (tolerance {tol[i, j]:.3g})")
    if arange and not np.array_equal(got, NUMBA_DPEX_RESULT):
        i, j = np.argwhere(got != NUMBA_DPEX_RESULT)[0]
        raise AssertionError(f"result({i}, {j}) = {got[i, j]!r}, numba-dpex prints "
                             f"{NUMBA_DPEX_RESULT[i, j]!r}")
    return launch_ms


def main(argv):
    filt = argv[1] if len(argv) > 1 else "all"
    devices = nl.devices() if filt == "all" else nl.devices(filt)
    if not devices:
        print(f"matmul: no device matches '{filt}'", file=sys.stderr)
        return 2
    failures = 0
    for dev in devices:
        for what, rows, inner, cols, tile, arange in CASES:
            space = space_of(rows, cols, tile, arange)
            desc = (f"matmul ({what}) {rows}x{inner} @ {inner}x{cols} {space!r} on "
                    f"{dev.filter_string} ({dev.name})")
            try:
                ms = run(dev, rows, inner, cols, tile, arange)
                print(f"PASS {desc}: launch {ms:.3f} ms")
            except Exception as e:  # noqa: BLE001 - report any failure per device and case
                failures += 1
                print(f"FAIL {desc}: {e}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
