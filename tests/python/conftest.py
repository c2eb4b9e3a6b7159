"""Fixtures of the ndlaunch Python test suite.

Every test that takes `device` runs once per device ndlaunch sees (the CPU here; the CUDA
devices too on a GPU machine). Kernels are compiled at run time (about a second each), so
the suite shares its Kernel objects through the session fixture `K`: a kernel compiled once
for a device and argument types is reused by every later test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ndlaunch as nl

ALL_DEVICES = nl.devices()
CUDA_DEVICES = [d for d in ALL_DEVICES if d.backend == "cuda"]
NO_CUDA = "no CUDA device: ndlaunch.devices() lists none (CPU-only machine or build)"

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: compiles extra kernels or starts subprocesses")
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one)")


@pytest.fixture(params=ALL_DEVICES, ids=[d.filter_string for d in ALL_DEVICES])
def device(request):
    """Each device ndlaunch lists, in turn."""
    return request.param


@pytest.fixture
def queue(device):
    """A fresh in-order queue on `device`."""
    return nl.Queue(device)


@pytest.fixture
def cpu_device():
    return nl.Device("cpu")


@pytest.fixture(params=CUDA_DEVICES or [None],
                ids=[d.filter_string for d in CUDA_DEVICES] or ["no-cuda"])
def cuda_device(request):
    """Each CUDA device; the test skips where there is none."""
    if request.param is None:
        pytest.skip(NO_CUDA)
    return request.param


# ---- Kernels shared by the suite ----------------------------------------------------------

SOURCES = {
    # a[i] += 1 for any 1-d array type.
    "add1": """
template <class V>
void add1(ndl::item<1> it, V a) { a[it.get_id(0)] += 1; }
""",
    # y = a * x + y; the scalar's type is whatever the launch passes.
    "axpy": """
template <class V, class W, class S>
void axpy(ndl::item<1> it, V y, W x, S a) {
  const auto i = it.get_id(0);
  y[i] = a * x[i] + y[i];
}
""",
    # Each work-item writes its row-major linear id at its own position.
    "write_ids": """
template <int D, class V>
void write_ids(ndl::item<D> it, V out) {
  if constexpr (D == 1)
    out(it.get_id(0)) = it.get_linear_id();
  else if constexpr (D == 2)
    out(it.get_id(0), it.get_id(1)) = it.get_linear_id();
  else
    out(it.get_id(0), it.get_id(1), it.get_id(2)) = it.get_linear_id();
}
""",
    # Global linear id, group linear id and local linear id at each global position.
    "nd_ids": """
template <int D, class V>
void nd_ids(ndl::nd_item<D> it, V glin, V grp, V loc) {
  auto at = [&](V v) -> decltype(auto) {
    if constexpr (D == 1)
      return v(it.get_global_id(0));
    else if constexpr (D == 2)
      return v(it.get_global_id(0), it.get_global_id(1));
    else
      return v(it.get_global_id(0), it.get_global_id(1), it.get_global_id(2));
  };
  at(glin) = it.get_global_linear_id();
  at(grp) = it.get_group().get_group_linear_id();
  at(loc) = it.get_local_linear_id();
}
""",
    # Tree reduction of each work-group's elements in local memory (power-of-two groups).
    "block_sum": """
template <class V, class L>
void block_sum(ndl::nd_item<1> it, V in, V out, L tmp) {
  const auto l = it.get_local_id(0);
  tmp[l] = in[it.get_global_id(0)];
  ndl::group_barrier(it.get_group());
  for (auto s = it.get_local_range(0) / 2; s > 0; s /= 2) {
    if (l < s) tmp[l] += tmp[l + s];
    ndl::group_barrier(it.get_group());
  }
  if (l == 0) out[it.get_group_id(0)] = tmp[0];
}
""",
    # Each 2-d tile is reversed along both axes through 2-d local memory.
    "tile_flip": """
template <class V, class L>
void tile_flip(ndl::nd_item<2> it, V in, V out, L tile) {
  const auto li = it.get_local_id(0), lj = it.get_local_id(1);
  const auto ni = it.get_local_range(0), nj = it.get_local_range(1);
  tile(li, lj) = in(it.get_global_id(0), it.get_global_id(1));
  ndl::group_barrier(it.get_group());
  const auto gi = it.get_group_id(0) * ni, gj = it.get_group_id(1) * nj;
  out(gi + li, gj + lj) = tile(ni - 1 - li, nj - 1 - lj);
}
""",
    # Device atomics: a histogram (integers) and a total (floating point).
    "hist_sum": """
template <class D, class H, class S>
void hist_sum(ndl::item<1> it, D data, H hist, S total) {
  const auto i = it.get_id(0);
  ndl::atomic_ref<typename H::value_type>(hist[data[i]]).fetch_add(1);
  ndl::atomic_ref<typename S::value_type>(total[0]).fetch_add(data[i]);
}
""",
    # Work-group atomics on local memory (numba-dpex test_atomic_ref: 32 items add 5 -> 160).
    "local_atomic": """
void local_atomic(ndl::nd_item<1> it, ndl::view<float, 1> out,
                  ndl::local_accessor<float, 1> slm) {
  if (it.get_group().leader()) slm[0] = 0;
  ndl::group_barrier(it.get_group());
  ndl::atomic_ref<float, ndl::memory_order::relaxed, ndl::memory_scope::work_group,
                  ndl::address_space::local_space>(slm[0]).fetch_add(5.0f);
  ndl::group_barrier(it.get_group());
  out[it.get_global_id(0)] = slm[0];
}
""",
    # Every scalar argument's value (as double) and a code of its C++ type: 1 for bool,
    # else bits + 100 if signed + 1000 if floating point.
    "scalars": """
template <class S>
double type_code() {
  if (S(2) == S(1)) return 1;  // bool
  return sizeof(S) * 8 + (S(-1) < S(0) ? 100 : 0) + (S(1) / S(2) != S(0) ? 1000 : 0);
}
template <class... S>
void scalars(ndl::item<1> it, ndl::view<double, 1> values, ndl::view<double, 1> codes,
             S... s) {
  if (it.get_id(0) != 0) return;
  int k = 0;
  ((values[k] = double(s), codes[k] = type_code<S>(), ++k), ...);
}
""",
    # One launch taking an array of every element type: each element += 1.
    "touch": """
template <class... V>
void touch(ndl::item<1> it, V... v) {
  const auto i = it.get_id(0);
  ((v[i] = v[i] + 1), ...);
}
""",
}


class Kernels:
    """Lazily made Kernel objects of SOURCES, one per name for the whole session."""

    def __init__(self):
        self._made = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._made:
            self._made[name] = nl.Kernel(SOURCES[name], name)
        return self._made[name]


@pytest.fixture(scope="session")
def K():
    return Kernels()


# ---- Helpers -------------------------------------------------------------------------------

def run_python(code: str, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter; returns the finished process (text output)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def host(a) -> np.ndarray:
    """An ndlaunch array's contents, read through to_numpy."""
    return a.to_numpy()
