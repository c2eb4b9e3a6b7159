"""Host-side launch overhead of the ndlaunch Python package, against the C++ launcher and, on
CUDA devices, against CuPy RawKernel and PyTorch, in one run (see README.md beside this file).

For N = 0, 1, 4 and 16 array arguments, a trivial kernel (one work-item adding 1 to element 0
of each one-element float32 array; with N = 0 it does nothing) is launched:
  (a) asynchronously: host time per ndlaunch.call_kernel_async call, the batch's launches
      submitted back to back, the queue waited for after the clock stops;
  (b) synchronously: ndlaunch.call_kernel, a full round trip per launch.
Every figure is the median over --rounds timed batches of --launches launches (after one
warm-up batch that also compiles the kernels), in ns per launch. The C++ figures come from
benchmarks/python_launch_cpp.cpp (--cpp PATH), run for the same device with the same
settings once per round, in a process of its own; CuPy and PyTorch run on CUDA devices in
this process, interleaved with ndlaunch within every round.

Usage:
  python benchmarks/python_launch/bench.py [--device FILTER] [--cpp PATH] [--json OUT]
                                           [--launches 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from itertools import repeat

import numpy as np

import ndlaunch as nl

CASES = (0, 1, 4, 16)
BUDGET_OVER_CPP_NS = 1000.0  # Python - C++ <= 1 us (async host time and round trip)

# The ndlaunch kernel: element 0 of each array argument += 1 (the C++ benchmark's `touch`).
TOUCH = nl.Kernel(
    """
template <class... V>
void touch(ndl::item<1> it, V... v) {
  ((v[it.get_id(0)] += 1.0f), ...);
  (void)it;
}
""",
    "touch",
)

perf_ns = time.perf_counter_ns
cpu_ns = time.thread_time_ns  # CPU time of this thread: robust to other processes' load


# ---- timing loops (kept minimal: the loop itself is part of what a user pays) ----------------
# Each returns (wall ns, CPU ns of the calling thread) for the whole batch.

def loop(fn, args, n):
    c0, t0 = cpu_ns(), perf_ns()
    for _ in repeat(None, n):
        fn(*args)
    t1 = perf_ns()
    return t1 - t0, cpu_ns() - c0


def loop_kw(fn, args, kw, n):
    c0, t0 = cpu_ns(), perf_ns()
    for _ in repeat(None, n):
        fn(*args, **kw)
    t1 = perf_ns()
    return t1 - t0, cpu_ns() - c0


def loop_then(fn, args, then, n):
    """fn(*args) followed by then() per iteration (a launch and its synchronisation)."""
    c0, t0 = cpu_ns(), perf_ns()
    for _ in repeat(None, n):
        fn(*args)
        then()
    t1 = perf_ns()
    return t1 - t0, cpu_ns() - c0


def loop_kw_then(fn, args, kw, then, n):
    c0, t0 = cpu_ns(), perf_ns()
    for _ in repeat(None, n):
        fn(*args, **kw)
        then()
    t1 = perf_ns()
    return t1 - t0, cpu_ns() - c0


class Contender:
    """One way of launching the kernel with N arrays: `setup(N)` prepares (and compiles) it,
    `run_async(n)` and `run_sync(n)` time a batch of n launches and return (wall ns, thread
    CPU ns) of the batch, and `check()` says whether every launch ran (None when it did)."""

    name = "?"

    def setup(self, n_arrays):
        raise NotImplementedError

    def run_async(self, n):
        raise NotImplementedError

    def run_sync(self, n):
        raise NotImplementedError

    def check(self):
        raise NotImplementedError


class NdlContender(Contender):
    name = "ndlaunch"

    def __init__(self, dev):
        self.q = nl.Queue.default(dev)  # in order, as the C++ benchmark's
        self.arrays = [nl.zeros(1, dtype="float32", queue=self.q) for _ in range(max(CASES))]
        self.touched = np.zeros(max(CASES), dtype=np.int64)
        self.r = nl.Range(1)

    def setup(self, n_arrays):
        self.n = n_arrays
        arrs = tuple(self.arrays[:n_arrays])
        # With no array the queue is named (as the C++ side does); with arrays it is inferred
        # from them (compute follows data).
        self.kw = {"queue": self.q} if n_arrays == 0 else {}
        self.async_args = (TOUCH, self.r, ()) + arrs
        self.sync_args = (TOUCH, self.r) + arrs
        nl.call_kernel(*self.sync_args, **self.kw)  # compiles this specialisation
        self.touched[:n_arrays] += 1

    def run_async(self, n):
        f = nl.call_kernel_async
        if self.kw:
            ns = loop_kw(f, self.async_args, self.kw, n)
        else:
            ns = loop(f, self.async_args, n)
        self.q.wait()
        self.touched[:self.n] += n
        return ns

    def run_sync(self, n):
        f = nl.call_kernel
        if self.kw:
            ns = loop_kw(f, self.sync_args, self.kw, n)
        else:
            ns = loop(f, self.sync_args, n)
        self.touched[:self.n] += n
        return ns

    def check(self):
        got = np.array([a.to_numpy()[0] for a in self.arrays], dtype=np.float64)
        return check_counts("ndlaunch", got, self.touched)


class CupyContender(Contender):
    """cupy.RawKernel with N float* parameters, on a non-blocking stream (as ndlaunch's)."""

    name = "cupy"

    def __init__(self, cp, ordinal):
        self.cp = cp
        self.device = cp.cuda.Device(ordinal)
        self.device.use()
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.arrays = [cp.zeros(1, dtype=cp.float32) for _ in range(max(CASES))]
        self.touched = np.zeros(max(CASES), dtype=np.int64)
        self.kernels = {}

    def setup(self, n_arrays):
        self.n = n_arrays
        if n_arrays not in self.kernels:
            params = ", ".join(f"float* a{i}" for i in range(n_arrays))
            body = " ".join(f"a{i}[0] += 1.0f;" for i in range(n_arrays))
            src = f'extern "C" __global__ void touch{n_arrays}({params}) {{ {body} }}'
            self.kernels[n_arrays] = self.cp.RawKernel(src, f"touch{n_arrays}")
        self.kernel = self.kernels[n_arrays]
        self.args = ((1,), (1,), tuple(self.arrays[:n_arrays]))
        with self.stream:
            self.kernel(*self.args)  # compiles
        self.stream.synchronize()
        self.touched[:n_arrays] += 1

    def run_async(self, n):
        with self.stream:
            ns = loop(self.kernel, self.args, n)
        self.stream.synchronize()
        self.touched[:self.n] += n
        return ns

    def run_sync(self, n):
        with self.stream:
            ns = loop_then(self.kernel, self.args, self.stream.synchronize, n)
        self.touched[:self.n] += n
        return ns

    def check(self):
        got = np.array([float(a.get()[0]) for a in self.arrays], dtype=np.float64)
        return check_counts("cupy", got, self.touched)


class TorchContender(Contender):
    """PyTorch's cheapest launch of a tiny kernel: torch.add(x, 1, out=y) on one-element
    tensors (the same for every N: PyTorch has no user kernel taking N arrays), on the
    current stream; the round trip adds torch.cuda.synchronize()."""

    name = "torch"

    def __init__(self, torch, ordinal):
        self.torch = torch
        self.dev = torch.device("cuda", ordinal)
        torch.cuda.set_device(self.dev)
        self.x = torch.zeros(1, dtype=torch.float32, device=self.dev)
        self.y = torch.zeros(1, dtype=torch.float32, device=self.dev)
        self.launches = 0

    def setup(self, n_arrays):
        self.args = (self.x, 1)
        self.kw = {"out": self.y}
        self.torch.add(*self.args, **self.kw)
        self.torch.cuda.synchronize()

    def run_async(self, n):
        ns = loop_kw(self.torch.add, self.args, self.kw, n)
        self.torch.cuda.synchronize()
        self.launches += n
        return ns

    def run_sync(self, n):
        return loop_kw_then(self.torch.add, self.args, self.kw, self.torch.cuda.synchronize, n)

    def check(self):
        ok = float(self.y.cpu()[0]) == 1.0
        return None if ok else f"torch: y = {float(self.y.cpu()[0])}, expected 1"


class TorchForeachContender(Contender):
    """For information: torch._foreach_add_(tensors, 1), one fused launch over N tensors
    (N >= 1), the nearest PyTorch has to one kernel taking N arrays."""

    name = "torch_foreach"

    def __init__(self, torch, ordinal):
        self.torch = torch
        dev = torch.device("cuda", ordinal)
        self.tensors = [torch.zeros(1, dtype=torch.float32, device=dev)
                        for _ in range(max(CASES))]
        self.touched = np.zeros(max(CASES), dtype=np.int64)

    def setup(self, n_arrays):
        self.n = n_arrays
        self.args = (self.tensors[:n_arrays], 1)
        self.torch._foreach_add_(*self.args)
        self.torch.cuda.synchronize()
        self.touched[:n_arrays] += 1

    def run_async(self, n):
        ns = loop(self.torch._foreach_add_, self.args, n)
        self.torch.cuda.synchronize()
        self.touched[:self.n] += n
        return ns

    def run_sync(self, n):
        ns = loop_then(self.torch._foreach_add_, self.args, self.torch.cuda.synchronize, n)
        self.touched[:self.n] += n
        return ns

    def check(self):
        got = np.array([float(t.cpu()[0]) for t in self.tensors], dtype=np.float64)
        return check_counts("torch_foreach", got, self.touched)


def check_counts(name, got, want):
    """Each launch added 1: the arrays count them (exactly, below 2^24)."""
    for i, (g, w) in enumerate(zip(got, want)):
        if w <= 2 ** 24 and g != w:
            return f"{name}: array {i} holds {g:g} after {w} launches touching it"
    return None


# ---- the run --------------------------------------------------------------------------------

def median(v):
    return float(np.median(v)) if len(v) else float("nan")


def quartiles(v):
    return [float(x) for x in np.percentile(v, [25, 50, 75])] if len(v) else []


class CppBaseline:
    """The C++ program, run once per round (one warm-up batch and one timed batch per case,
    in a process of its own) while this process is idle, so that C++ and Python rounds
    interleave as the contenders within this process do."""

    def __init__(self, path, dev, launches):
        self.path, self.dev, self.launches = path, dev, launches
        self.failure = None  # the C++ program's error or skip message, once it gave one
        self.meta = {}
        self.samples = {n: {"async": [], "sync": [], "async_cpu": []} for n in CASES}
        self.processes = 0

    def run_round(self, keep):
        if self.failure:
            return
        out = run_cpp(self.path, self.dev, self.launches, 1)
        if "cases" not in out:
            self.failure = out
            return
        self.processes += 1
        self.meta = {k: out[k] for k in ("program", "commit", "device") if k in out}
        if keep:
            for c in out["cases"]:
                o = self.samples[c["n_arrays"]]
                o["async"].append(c["async_ns"])
                o["sync"].append(c["sync_ns"])
                o["async_cpu"].append(c["async_cpu_ns"])

    def result(self):
        if self.failure:
            return self.failure
        return {**self.meta, "launches": self.launches, "processes": self.processes,
                "cases": as_cases(self.samples)}


def measure(contenders, launches, rounds, cpp=None):
    """{name: {n_arrays: {"async": [ns...], "sync": [ns...], "async_cpu": [ns...]}}}: every
    round runs the C++ program (`cpp`, a CppBaseline) and then each case for every contender
    in turn (async batch, then sync batch); round 0 warms up (and compiles) and is dropped."""
    out = {c.name: {n: {"async": [], "sync": [], "async_cpu": []} for n in CASES}
           for c in contenders}
    for r in range(rounds + 1):
        if cpp is not None:
            cpp.run_round(keep=r > 0)
        for n_arrays in CASES:
            # Who goes first alternates, so that slow drifts hit every contender alike.
            for c in contenders if r % 2 else contenders[::-1]:
                if c.name == "torch_foreach" and n_arrays == 0:
                    continue
                c.setup(n_arrays)  # compiles in round 0; later one untimed launch
                a, a_cpu = c.run_async(launches)
                s, _ = c.run_sync(launches)
                if r > 0:
                    o = out[c.name][n_arrays]
                    o["async"].append(a / launches)
                    o["async_cpu"].append(a_cpu / launches)
                    o["sync"].append(s / launches)
    return out


def as_cases(samples):
    """The C++ benchmark's JSON layout: [{"n_arrays", "async_ns", "sync_ns", "async_cpu_ns",
    "*_rounds"}]."""
    cases = []
    for n_arrays, s in samples.items():
        if not s["async"]:
            continue
        cases.append({"n_arrays": n_arrays,
                      "async_ns": round(median(s["async"]), 1),
                      "sync_ns": round(median(s["sync"]), 1),
                      "async_cpu_ns": round(median(s["async_cpu"]), 1),
                      "async_ns_rounds": [round(x, 1) for x in s["async"]],
                      "sync_ns_rounds": [round(x, 1) for x in s["sync"]],
                      "async_cpu_ns_rounds": [round(x, 1) for x in s["async_cpu"]]})
    return cases


def run_cpp(path, dev, launches, rounds):
    cmd = [path, dev.filter_string, f"--launches={launches}", f"--rounds={rounds}"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{' '.join(cmd)}: {e}"}
    if p.returncode != 0:
        return {"error": f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}"}
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        return {"error": f"{' '.join(cmd)}: unreadable output ({e}): {p.stdout[:200]}"}
    if "skipped" not in out and out.get("device", {}).get("filter") != dev.filter_string:
        return {"error": f"the C++ benchmark ran on {out.get('device')}, not "
                         f"{dev.filter_string}"}
    return out


def cuda_ordinal(dev):
    return int(dev.filter_string.split(":")[1])


def optional_contenders(dev, want_cupy, want_torch):
    """CuPy and PyTorch contenders for a CUDA device, or messages saying why not."""
    contenders, notes = [], {}
    if dev.backend != "cuda":
        notes["cupy"] = notes["torch"] = "compared on CUDA devices only"
        return contenders, notes
    ordinal = cuda_ordinal(dev)
    if want_cupy:
        try:
            import cupy as cp  # noqa: PLC0415 - lazily: optional, and slow to import
            if cp.cuda.runtime.getDeviceCount() <= ordinal:
                raise RuntimeError(f"CuPy sees no CUDA device {ordinal}")
            contenders.append(CupyContender(cp, ordinal))
        except Exception as e:  # noqa: BLE001 - ImportError, or a CUDA error of CuPy's
            notes["cupy"] = f"skipped: {type(e).__name__}: {e}"
    else:
        notes["cupy"] = "skipped (--no-cupy)"
    if want_torch:
        try:
            import torch  # noqa: PLC0415
            if not torch.cuda.is_available() or torch.cuda.device_count() <= ordinal:
                raise RuntimeError(f"PyTorch sees no CUDA device {ordinal}")
            contenders.append(TorchContender(torch, ordinal))
            contenders.append(TorchForeachContender(torch, ordinal))
        except Exception as e:  # noqa: BLE001
            notes["torch"] = f"skipped: {type(e).__name__}: {e}"
    else:
        notes["torch"] = "skipped (--no-torch)"
    return contenders, notes


def fmt(v, width=8, digits=0):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-".rjust(width)
    return f"{v:{width}.{digits}f}"


def print_table(dev, result, launches, rounds):
    cpp = {c["n_arrays"]: c for c in result["cpp"].get("cases", [])}
    py = {c["n_arrays"]: c for c in result["ndlaunch"]["cases"]}
    others = {k: {c["n_arrays"]: c for c in result[k]["cases"]}
              for k in ("cupy", "torch", "torch_foreach") if "cases" in result.get(k, {})}
    print(f"\n{dev.filter_string} ({dev.name}): {launches} launches x {rounds} rounds, "
          "median ns per launch")
    for kind, title in (("async_ns", "async launch, host time per call_kernel_async (submit "
                                     "only; the queue is waited for after the clock stops)"),
                        ("sync_ns", "round trip, call_kernel (CuPy, PyTorch: launch + "
                                    "synchronize)")):
        print(f"  {title}")
        head = f"  {'arrays':>6} {'Python':>8} {'C++':>8} {'Py-C++':>8} {'<=1us':>5}"
        if kind == "async_ns":
            head += f" | {'cpu: Py':>8} {'C++':>8} {'Py-C++':>8}"
        if others:
            head += (f" | {'CuPy':>8} {'Py/CuPy':>7} {'PyTorch':>8} {'Py/Torch':>8} "
                     f"{'faster':>6} | {'foreach':>8}")
        print(head)
        for n in CASES:
            p = py[n][kind]
            c = cpp[n][kind] if n in cpp else None
            line = f"  {n:>6} {fmt(p)} {fmt(c)} {fmt(None if c is None else p - c)} "
            line += f"{('-' if c is None else 'yes' if p - c <= BUDGET_OVER_CPP_NS else 'NO'):>5}"
            if kind == "async_ns":
                pc = py[n].get("async_cpu_ns")
                cc = cpp[n].get("async_cpu_ns") if n in cpp else None
                line += (f" | {fmt(pc)} {fmt(cc)} "
                         f"{fmt(None if pc is None or cc is None else pc - cc)}")
            if others:
                cu = others.get("cupy", {}).get(n, {}).get(kind)
                to = others.get("torch", {}).get(n, {}).get(kind)
                fe = others.get("torch_foreach", {}).get(n, {}).get(kind)
                verdict = ("-" if cu is None or to is None
                           else "yes" if p < cu and p < to else "NO")
                line += (f" | {fmt(cu)} {fmt(None if cu is None else p / cu, 7, 2)}"
                         f" {fmt(to)} {fmt(None if to is None else p / to, 8, 2)}"
                         f" {verdict:>6} | {fmt(fe)}")
            print(line)
    for k in ("cpp", "cupy", "torch"):
        note = result.get(k, {})
        if "error" in note or "skipped" in note or "note" in note:
            print(f"  {k}: {note.get('error') or note.get('skipped') or note.get('note')}")


def machine_info():
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "numpy": np.__version__,
            "ndlaunch": getattr(nl, "__version__", "?"),
            "NDL_CPU_THREADS": os.environ.get("NDL_CPU_THREADS")}
    try:
        info["cpus_in_affinity_mask"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=here).returncode
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None,
                    help="device filter (default: every device ndlaunch.devices() lists)")
    ap.add_argument("--cpp", default=None,
                    help="path to ndl_bench_python_launch_cpp (the C++ baseline)")
    ap.add_argument("--json", default=None, help="write every figure to this file")
    ap.add_argument("--launches", type=int, default=2000, help="launches per batch")
    ap.add_argument("--rounds", type=int, default=7, help="timed batches per case")
    ap.add_argument("--no-cupy", action="store_true", help="leave CuPy out")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    args = ap.parse_args(argv)
    if args.launches < 1 or args.rounds < 1:
        ap.error("--launches and --rounds must be positive")

    devices = nl.devices(args.device) if args.device else nl.devices()
    if not devices:
        print(f"no device matches '{args.device}'", file=sys.stderr)
        return 2
    if not args.cpp:
        print("note: no --cpp PATH given: the C++ columns stay empty (build the target "
              "ndl_bench_python_launch_cpp)")

    report = {"program": "benchmarks/python_launch/bench.py", "commit": git_commit(),
              "machine": machine_info(), "launches": args.launches, "rounds": args.rounds,
              "load_average_before": list(os.getloadavg()), "devices": []}
    failures = 0
    for dev in devices:
        result = {"device": {"filter": dev.filter_string, "name": dev.name,
                             "backend": dev.backend}}
        contenders, notes = optional_contenders(dev, not args.no_cupy, not args.no_torch)
        ndl = NdlContender(dev)
        contenders.insert(0, ndl)
        cpp = CppBaseline(args.cpp, dev, args.launches) if args.cpp else None
        samples = measure(contenders, args.launches, args.rounds, cpp)
        result["cpp"] = cpp.result() if cpp else {"note": "not run (no --cpp PATH)"}
        for c in contenders:
            result[c.name] = {"cases": as_cases(samples[c.name])}
        for k, v in notes.items():
            result.setdefault(k, {"skipped": v} if not v.startswith("compared") else {"note": v})
        if "torch" in notes:
            result.setdefault("torch_foreach", {"skipped": notes["torch"]})
        for c in contenders:
            problem = c.check()
            if problem:
                failures += 1
                print(f"FAIL: {problem}", file=sys.stderr)
        result["summary"] = summarise(result)
        report["devices"].append(result)
        print_table(dev, result, args.launches, args.rounds)
    report["load_average_after"] = list(os.getloadavg())
    la = report["load_average_after"][0]
    cpus = report["machine"].get("cpus_in_affinity_mask") or os.cpu_count() or 1
    if la > cpus / 2:
        print(f"\nnote: load average {la:.2f} on {cpus} CPUs: the machine was busy, "
              "the figures are noisy")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON: {args.json}")
    return 1 if failures else 0


def summarise(result):
    """Per case: Python - C++ and the ratios to CuPy and PyTorch, with the budgets' verdicts."""
    rows = []
    cpp = {c["n_arrays"]: c for c in result["cpp"].get("cases", [])}
    get = lambda k: {c["n_arrays"]: c for c in result.get(k, {}).get("cases", [])}  # noqa: E731
    cupy, torch = get("cupy"), get("torch")
    for c in result["ndlaunch"]["cases"]:
        n = c["n_arrays"]
        row = {"n_arrays": n}
        for kind in ("async_ns", "sync_ns"):
            p = c[kind]
            row[f"python_{kind}"] = p
            if n in cpp:
                row[f"cpp_{kind}"] = cpp[n][kind]
                row[f"python_minus_cpp_{kind}"] = round(p - cpp[n][kind], 1)
                row[f"within_1us_{kind}"] = p - cpp[n][kind] <= BUDGET_OVER_CPP_NS
            if n in cupy:
                row[f"python_over_cupy_{kind}"] = round(p / cupy[n][kind], 3)
            if n in torch:
                row[f"python_over_torch_{kind}"] = round(p / torch[n][kind], 3)
            if n in cupy and n in torch:
                row[f"faster_than_both_{kind}"] = p < cupy[n][kind] and p < torch[n][kind]
        row["python_async_ns_quartiles"] = [round(x, 1) for x in
                                            quartiles(c["async_ns_rounds"])]
        row["python_sync_ns_quartiles"] = [round(x, 1) for x in quartiles(c["sync_ns_rounds"])]
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
