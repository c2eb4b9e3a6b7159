"""Kernels from C++ source, compiled at run time per device and argument types.

The source defines a function (or function template) taking the work-item first
(``ndl::item<D>`` for a Range, ``ndl::nd_item<D>`` for an NdRange) and then the kernel
arguments: Arrays arrive as ``ndl::view<T, ndim>``, LocalAccessors as
``ndl::local_accessor<T, ndim>``, Python ints as ``long``, floats as ``double``, bools as
``bool`` and NumPy scalars as their type. For each new combination of device and argument
types the launcher generates one line instantiating the function
(``NDL_RT_KERNEL(name, space, types...)``) and compiles it: with the host C++ compiler for
the CPU device (``NDL_CXX`` or ``CXX``, default ``c++``), with NVRTC for CUDA devices.

Compiled images are cached in memory for the process and, when a cache directory is set
(``cache_dir=`` or the ``NDLAUNCH_CACHE_DIR`` environment variable), on disk under a key that
covers everything that changes the binary: the generated source, the compiler and its flags,
the target (GPU architecture, CPU model), the ndl headers and the kernel ABI. Entries are
published atomically (written aside, then renamed), so concurrent processes never read a
half-written one. Several threads calling a kernel for the first time together compile it
once: the others wait for it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading

from . import _ndlaunch

# rt_dtype codes (include/ndl/detail/rt_kernel.hpp) and the C++ types kernels receive.
_CXX = {1: "bool", 2: "signed char", 3: "short", 4: "int", 5: "long", 6: "unsigned char",
        7: "unsigned short", 8: "unsigned int", 9: "unsigned long", 10: "float", 11: "double"}
_NAMES = {1: "bool", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "uint8", 7: "uint16",
          8: "uint32", 9: "uint64", 10: "float32", 11: "float64"}
_ARRAY, _SCALAR, _LOCAL = 1, 2, 3

_PRELUDE = """#include <ndl/detail/rt_kernel.hpp>
#include <ndl/kernel/atomic.hpp>
#include <ndl/kernel/barrier.hpp>
#include <ndl/kernel/private_array.hpp>
"""


def _decode(code: int):
    return code >> 8, (code >> 2) & 0x3F, code & 3


def _cxx_type(code: int) -> str:
    kind, dtype, ndim = _decode(code)
    t = _CXX[dtype]
    if kind == _ARRAY:
        return f"ndl::view<{t}, {ndim}>"
    if kind == _LOCAL:
        return f"ndl::local_accessor<{t}, {ndim}>"
    return t


def describe_signature(is_nd: bool, dims: int, codes) -> str:
    """A readable signature: 'NdRange(1): Array[float32, 1], LocalAccessor[float32, 1]'."""
    parts = []
    for c in codes:
        kind, dtype, ndim = _decode(c)
        name = _NAMES.get(dtype, "?")
        parts.append(f"Array[{name}, {ndim}]" if kind == _ARRAY
                     else f"LocalAccessor[{name}, {ndim}]" if kind == _LOCAL else name)
    return f"{'NdRange' if is_nd else 'Range'}({dims}): " + ", ".join(parts)


def generate_source(source: str, name: str, is_nd: bool, dims: int, codes) -> str:
    """The translation unit compiled for one specialisation."""
    space = f"ndl::{'nd_range' if is_nd else 'range'}<{dims}>"
    types = "".join(", " + _cxx_type(c) for c in codes)
    return (_PRELUDE + f'#line 1 "{name}"\n' + source +
            f"\nNDL_RT_KERNEL({name}, {space}{types})\n")


# ---- Caches shared by every kernel of the process ----------------------------------------

_lock = threading.Lock()
_entry_locks: dict = {}  # cache key -> lock held while it is compiled and loaded
_images: dict = {}  # cache key -> compiled image
_loaded: dict = {}  # (device, cache key) -> address of the loaded specialisation
_stats = {"compiles": 0, "memory_hits": 0, "disk_hits": 0, "loads": 0}
_headers_digest = None


def cache_info() -> dict:
    """Counts since the start (or clear_cache): compiles, memory_hits, disk_hits, loads."""
    with _lock:
        return dict(_stats)


def clear_cache() -> None:
    """Forgets the in-memory images and the counts (loaded kernels stay loaded; kernels keep
    their own specialisations). The disk cache is left as it is."""
    with _lock:
        _images.clear()
        _loaded.clear()
        for k in _stats:
            _stats[k] = 0


def _headers() -> str:
    global _headers_digest
    if _headers_digest is None:
        h = hashlib.sha256()
        root = os.path.join(os.path.dirname(__file__), "include")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for f in sorted(filenames):
                p = os.path.join(dirpath, f)
                h.update(os.path.relpath(p, root).encode())
                with open(p, "rb") as fh:
                    h.update(fh.read())
        _headers_digest = h.hexdigest()
    return _headers_digest


def _options(device) -> list:
    from . import get_include, get_library_dir
    opts = ["-I" + get_include()]
    if device.backend == "cpu":
        lib = get_library_dir()
        opts += ["-L" + lib, "-lndl", "-Wl,-rpath," + lib]
    return opts


def _cache_dir(explicit):
    if explicit is False:
        return None
    if explicit:
        return os.fspath(explicit)
    return os.environ.get("NDLAUNCH_CACHE_DIR") or None


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _publish(directory: str, key: str, image: bytes) -> None:
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-" + key[:16])
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(image)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(directory, key))  # atomic: readers see all or nothing
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def specialize(device, source: str, name: str, is_nd: bool, dims: int, codes,
               options=(), cache_dir=None) -> int:
    """Compiles (or finds) and loads one specialisation; returns its address."""
    codes = tuple(codes)
    text = generate_source(source, name, is_nd, dims, codes)
    opts = _options(device) + list(options)
    h = hashlib.sha256()
    for part in (text, _ndlaunch._compiler_id(device), " ".join(opts),
                 str(_ndlaunch._abi_version), str(_ndlaunch._checked), _headers()):
        h.update(part.encode())
        h.update(b"\0")
    key = h.hexdigest()
    with _lock:
        entry_lock = _entry_locks.setdefault(key, threading.Lock())
    with entry_lock:  # one thread compiles; the others wait here (without the GIL)
        loaded_key = (device, key)
        with _lock:
            addr = _loaded.get(loaded_key)
            if addr is not None:
                _stats["memory_hits"] += 1
                return addr
            image = _images.get(key)
            if image is not None:
                _stats["memory_hits"] += 1
        directory = _cache_dir(cache_dir)
        suffix = ".so" if device.backend == "cpu" else ".cubin"
        from_disk = False
        if image is None and directory:
            image = _read(os.path.join(directory, key + suffix))
            from_disk = image is not None
        addr = None
        if from_disk:
            try:
                addr = _ndlaunch._load(device, image, name, is_nd, dims, list(codes))
                with _lock:
                    _stats["disk_hits"] += 1
            except _ndlaunch.Error:
                image = None  # a damaged entry (e.g. truncated by a full disk): rebuild it
        if image is None:
            image = _ndlaunch._compile(device, text, opts)
            with _lock:
                _stats["compiles"] += 1
            if directory:
                _publish(directory, key + suffix, image)
        if addr is None:
            addr = _ndlaunch._load(device, image, name, is_nd, dims, list(codes))
        with _lock:
            _stats["loads"] += 1
            _images[key] = image
            _loaded[loaded_key] = addr
        return addr


class Kernel(_ndlaunch.KernelBase):
    """A kernel written as C++ source against the ndl kernel API.

    ``source`` defines the function ``name`` (a plain function or a template); it is compiled
    for each device and argument types it is launched with, the first time, and cached.

    ``options`` are extra compiler options (e.g. ``["-DTILE=16"]``); ``cache_dir`` a
    directory for compiled images shared between processes (default: the environment
    variable ``NDLAUNCH_CACHE_DIR``; ``False`` keeps them in memory only).
    """

    def __init__(self, source: str, name: str, *, options=(), cache_dir=None):
        if not name.isidentifier():
            raise ValueError(f"kernel name {name!r} is not a C++ identifier")
        super().__init__(name)
        self.source = source
        self.options = tuple(options)
        self.cache_dir = cache_dir

    def _specialize(self, device, is_nd, dims, codes):
        return specialize(device, self.source, self.name, is_nd, dims, codes,
                          self.options, self.cache_dir)

    def __repr__(self):
        return f"<ndlaunch.Kernel {self.name}: {self.num_specializations} specialisations>"


class ExportedKernel(_ndlaunch.KernelBase):
    """A kernel exported by a C++ extension (NDL_PYTHON_EXPORT_KERNEL)."""

    def __init__(self, capsule, name: str):
        super().__init__(name)
        self.capsule = capsule
        self.specs = _ndlaunch._capsule_specs(capsule)

    def _specialize(self, device, is_nd, dims, codes):
        codes = tuple(codes)
        for addr, s_nd, s_dims, s_codes, has_cuda in self.specs:
            if s_nd == is_nd and s_dims == dims and tuple(s_codes) == codes:
                if device.backend == "cuda" and not has_cuda:
                    raise _ndlaunch.UnsupportedError(
                        f"kernel '{self.name}' was exported from an extension not compiled "
                        "by nvcc: it runs on CPU devices only (compile the extension's "
                        "source with nvcc to run it on CUDA devices)")
                return addr
        have = "; ".join(describe_signature(s[1], s[2], s[3]) for s in self.specs)
        raise TypeError(f"kernel '{self.name}' was not exported for "
                        f"{describe_signature(is_nd, dims, codes)}; it was for: {have}")

    def __repr__(self):
        return f"<ndlaunch exported kernel {self.name}: {len(self.specs)} signatures>"
