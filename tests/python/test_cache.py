"""The kernel cache: compiles counted once per specialisation, memory hits across Kernel
objects, the disk cache shared between processes, and concurrent first calls."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid

import numpy as np
import pytest

import ndlaunch as nl
from conftest import run_python

# A kernel for any item type and array rank: a.data()[linear id] += 1.
GENERIC = """
// {tag}
template <class It, class V>
void bump(It it, V a) {{
  if constexpr (requires {{ it.get_linear_id(); }})
    a.data()[it.get_linear_id()] += 1;
  else
    a.data()[it.get_global_linear_id()] += 1;
}}
"""


def fresh_source() -> str:
    """A source no cache has seen (the tag is part of the compiled text)."""
    return GENERIC.format(tag=uuid.uuid4().hex)


def delta(before: dict) -> dict:
    after = nl.cache_info()
    return {k: after[k] - before[k] for k in after}


def test_cache_info_keys():
    info = nl.cache_info()
    assert set(info) == {"compiles", "memory_hits", "disk_hits", "loads"}
    assert all(isinstance(v, int) and v >= 0 for v in info.values())


def test_first_call_compiles_and_later_calls_hit(device):
    k = nl.Kernel(fresh_source(), "bump", cache_dir=False)
    a = nl.zeros(8, "float32", queue=device)
    before = nl.cache_info()
    nl.call_kernel(k, nl.Range(8), a)
    assert delta(before) == {"compiles": 1, "memory_hits": 0, "disk_hits": 0, "loads": 1}
    assert k.num_specializations == 1
    assert repr(k) == "<ndlaunch.Kernel bump: 1 specialisations>"
    assert k.name == "bump" and k.cache_dir is False and k.options == ()
    # The same types again: the kernel's own specialisation, no compile, no lookup.
    before = nl.cache_info()
    for _ in range(3):
        nl.call_kernel(k, nl.Range(8), a)
    nl.call_kernel(k, nl.Range(4), nl.zeros(4, "float32", queue=device))  # other extents
    assert delta(before) == {"compiles": 0, "memory_hits": 0, "disk_hits": 0, "loads": 0}
    assert k.num_specializations == 1
    np.testing.assert_array_equal(a.to_numpy(), np.full(8, 4.0))


@pytest.mark.parametrize("change", ["dtype", "ndim", "nd_range", "dims"])
def test_a_new_signature_is_a_miss(device, change):
    k = nl.Kernel(fresh_source(), "bump", cache_dir=False)
    a = nl.zeros(8, "float32", queue=device)
    nl.call_kernel(k, nl.Range(8), a)
    before = nl.cache_info()
    if change == "dtype":
        b = nl.zeros(8, "float64", queue=device)
        nl.call_kernel(k, nl.Range(8), b)
    elif change == "ndim":
        b = nl.zeros((2, 4), "float32", queue=device)
        nl.call_kernel(k, nl.Range(8), b)
    elif change == "nd_range":
        b = a
        nl.call_kernel(k, nl.NdRange(8, 4), b)
    else:
        b = nl.zeros((2, 4), "float32", queue=device)
        nl.call_kernel(k, nl.Range(2, 4), b)
    assert delta(before)["compiles"] == 1
    assert k.num_specializations == 2
    assert (b.to_numpy() >= 1).all()


def test_a_second_kernel_object_reuses_the_image(device):
    src = fresh_source()
    a = nl.zeros(8, "int32", queue=device)
    nl.call_kernel(nl.Kernel(src, "bump", cache_dir=False), nl.Range(8), a)
    before = nl.cache_info()
    k2 = nl.Kernel(src, "bump", cache_dir=False)
    nl.call_kernel(k2, nl.Range(8), a)
    d = delta(before)
    assert d["compiles"] == 0 and d["memory_hits"] == 1 and d["disk_hits"] == 0
    np.testing.assert_array_equal(a.to_numpy(), np.full(8, 2))


def test_options_are_part_of_the_key(device):
    src = f"""
// {uuid.uuid4().hex}
template <class V>
void put(ndl::item<1> it, V a) {{ a[it.get_id(0)] = VALUE; }}
"""
    a = nl.zeros(4, "int32", queue=device)
    before = nl.cache_info()
    nl.call_kernel(nl.Kernel(src, "put", options=["-DVALUE=3"], cache_dir=False),
                   nl.Range(4), a)
    np.testing.assert_array_equal(a.to_numpy(), [3] * 4)
    nl.call_kernel(nl.Kernel(src, "put", options=["-DVALUE=4"], cache_dir=False),
                   nl.Range(4), a)
    np.testing.assert_array_equal(a.to_numpy(), [4] * 4)
    assert delta(before)["compiles"] == 2


def test_clear_cache_forgets_images_and_counts(device):
    src = fresh_source()
    a = nl.zeros(4, "float32", queue=device)
    k = nl.Kernel(src, "bump", cache_dir=False)
    nl.call_kernel(k, nl.Range(4), a)
    nl.clear_cache()
    assert nl.cache_info() == {"compiles": 0, "memory_hits": 0, "disk_hits": 0, "loads": 0}
    nl.call_kernel(k, nl.Range(4), a)  # the kernel keeps its own specialisations
    assert nl.cache_info()["compiles"] == 0
    nl.call_kernel(nl.Kernel(src, "bump", cache_dir=False), nl.Range(4), a)  # images forgotten
    assert nl.cache_info()["compiles"] == 1
    np.testing.assert_array_equal(a.to_numpy(), np.full(4, 3.0))


def test_concurrent_first_calls_compile_once(device):
    k = nl.Kernel(fresh_source(), "bump", cache_dir=False)
    n = 8
    arrays = [nl.zeros(64, "float32", queue=nl.Queue(device)) for _ in range(n)]
    errors = []
    start = threading.Barrier(n)

    def first_call(i):
        try:
            start.wait()
            nl.call_kernel(k, nl.Range(64), arrays[i])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    before = nl.cache_info()
    threads = [threading.Thread(target=first_call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    d = delta(before)
    assert d["compiles"] == 1 and d["loads"] == 1
    assert k.num_specializations == 1
    for a in arrays:
        np.testing.assert_array_equal(a.to_numpy(), np.ones(64))


# ---- The disk cache ------------------------------------------------------------------------

CHILD = """
import json, sys, numpy as np, ndlaunch as nl
src = open(sys.argv[1]).read()
a = nl.zeros(16, "float32", queue=nl.Device(sys.argv[2]))
nl.call_kernel(nl.Kernel(src, "bump"), nl.Range(16), a)
assert (a.to_numpy() == 1).all(), a.to_numpy()
print(json.dumps(nl.cache_info()))
"""


def child_command(tmp_path, src, device):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    src_file = tmp_path / f"{uuid.uuid4().hex}.cpp"
    src_file.write_text(src)
    return [sys.executable, str(script), str(src_file), device.filter_string]


def entries(directory):
    names = sorted(os.listdir(directory))
    return [n for n in names if not n.startswith(".")], [n for n in names if n.startswith(".")]


@pytest.mark.slow
def test_disk_cache_serves_a_fresh_process(device, tmp_path):
    import json
    cache = tmp_path / "cache"
    src = fresh_source()
    k = nl.Kernel(src, "bump", cache_dir=cache)
    before = nl.cache_info()
    nl.call_kernel(k, nl.Range(16), nl.zeros(16, "float32", queue=device))
    assert delta(before)["compiles"] == 1
    published, hidden = entries(cache)
    suffix = ".so" if device.backend == "cpu" else ".cubin"
    assert len(published) == 1 and published[0].endswith(suffix), published
    assert hidden == [], f"temporary files left behind: {hidden}"
    assert (cache / published[0]).stat().st_size > 0
    # A fresh interpreter with the same directory (through NDLAUNCH_CACHE_DIR) loads it.
    env = dict(os.environ, NDLAUNCH_CACHE_DIR=str(cache))
    r = subprocess.run(child_command(tmp_path, src, device), capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["disk_hits"] == 1 and info["compiles"] == 0 and info["loads"] == 1, info
    assert entries(cache) == (published, [])


@pytest.mark.slow
def test_cache_dir_false_ignores_the_environment(device, tmp_path, monkeypatch):
    monkeypatch.setenv("NDLAUNCH_CACHE_DIR", str(tmp_path))
    k = nl.Kernel(fresh_source(), "bump", cache_dir=False)
    nl.call_kernel(k, nl.Range(4), nl.zeros(4, "float32", queue=device))
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_two_processes_compiling_into_one_directory(device, tmp_path):
    import json
    cache = tmp_path / "cache"
    src = fresh_source()
    env = dict(os.environ, NDLAUNCH_CACHE_DIR=str(cache))
    procs = [subprocess.Popen(child_command(tmp_path, src, device), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        info = json.loads(out)
        assert info["compiles"] + info["disk_hits"] == 1, info
    published, hidden = entries(cache)
    assert len(published) == 1, published
    assert hidden == [], f"temporary files left behind: {hidden}"
    # And a third process only reads it.
    r = subprocess.run(child_command(tmp_path, src, device), capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["disk_hits"] == 1


@pytest.mark.slow
def test_a_corrupt_disk_entry_is_rebuilt(device, tmp_path):
    """A truncated or foreign file under the key is never run: the load refuses it, the
    kernel is compiled again and the entry replaced."""
    cache = tmp_path / "cache"
    src = fresh_source()
    nl.call_kernel(nl.Kernel(src, "bump", cache_dir=cache), nl.Range(4),
                   nl.zeros(4, "float32", queue=device))
    (entry,) = entries(cache)[0]
    (cache / entry).write_bytes(b"not a kernel image")
    r = run_python(f"""
        import ndlaunch as nl
        k = nl.Kernel({src!r}, "bump", cache_dir={str(cache)!r})
        a = nl.zeros(4, "float32", queue={device.filter_string!r})
        nl.call_kernel(k, nl.Range(4), a)
        info = nl.cache_info()
        print(a.to_numpy().tolist(), info["compiles"], info["disk_hits"])
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[1.0,", "1.0,", "1.0,", "1.0]", "1", "0"], r.stdout
    assert (cache / entry).read_bytes() != b"not a kernel image"
