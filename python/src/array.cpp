// ndlaunch.Array: n-dimensional arrays on a device, their factories, host copies, slicing,
// DLPack (both directions) and __cuda_array_interface__.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <cstring>
#include <string>
#include <vector>

#include "dlpack.hpp"
#include "ndlaunch_py.hpp"

namespace ndlaunch {

std::vector<ndl::event> events_from(nb::handle events);
ndl::queue queue_from(nb::handle h);

namespace {

struct dtype_row {
  rt_dtype t;
  size_t size;
  const char* name;
  char kind;  // DLPack code class: 'b' bool, 'i' int, 'u' uint, 'f' float
};
constexpr dtype_row dtype_rows[] = {
    {rt_dtype::b8, 1, "bool", 'b'},     {rt_dtype::i8, 1, "int8", 'i'},
    {rt_dtype::i16, 2, "int16", 'i'},   {rt_dtype::i32, 4, "int32", 'i'},
    {rt_dtype::i64, 8, "int64", 'i'},   {rt_dtype::u8, 1, "uint8", 'u'},
    {rt_dtype::u16, 2, "uint16", 'u'},  {rt_dtype::u32, 4, "uint32", 'u'},
    {rt_dtype::u64, 8, "uint64", 'u'},  {rt_dtype::f32, 4, "float32", 'f'},
    {rt_dtype::f64, 8, "float64", 'f'},
};

const dtype_row& row(rt_dtype t) {
  for (const auto& r : dtype_rows)
    if (r.t == t) return r;
  throw std::logic_error("ndlaunch: unknown dtype code");
}

/// The DLPack type code of an element type.
uint8_t dl_code(const dtype_row& r) {
  return r.kind == 'b'   ? dlpack::kDLBool
         : r.kind == 'i' ? dlpack::kDLInt
         : r.kind == 'u' ? dlpack::kDLUInt
                         : dlpack::kDLFloat;
}

nb::handle numpy() {
  // Never released: a static Python object would be released after the interpreter ended.
  static nb::handle np = nb::module_::import_("numpy").release();
  return np;
}

std::string shape_string(int ndim, const int64_t* shape) {
  std::string s = "(";
  for (int d = 0; d < ndim; ++d)
    s += std::to_string(shape[d]) + (ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
  return s + ")";
}

std::vector<int64_t> shape_from(nb::handle h) {
  std::vector<int64_t> out;
  auto one = [&](nb::handle v) {
    if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
      throw nb::type_error("array shapes are integers or tuples of integers");
    const long long x = nb::cast<long long>(v);
    if (x < 0)
      ndl::detail::throw_error(ndl::errc::invalid_argument,
                               "negative extent " + std::to_string(x) + " in an array shape");
    out.push_back(x);
  };
  if (nb::isinstance<nb::tuple>(h) || nb::isinstance<nb::list>(h))
    for (nb::handle v : h)
      one(v);
  else
    one(h);
  if (out.empty() || out.size() > 3)
    ndl::detail::throw_error(
        ndl::errc::invalid_argument,
        "ndlaunch arrays have 1, 2 or 3 dimensions, got " + std::to_string(out.size()));
  return out;
}

bool is_c_contiguous(const py_array& a) {
  int64_t expect = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    if (a.shape[d] != 1 && a.strides[d] != expect) return false;
    expect *= a.shape[d];
  }
  return true;
}

/// Copies `a` (any strides) into the C-order host buffer `dst`, blocking without the GIL.
void copy_to_host(const py_array& a, void* dst, nb::handle depends) {
  if (a.size() == 0) return;
  auto deps = events_from(depends);
  size_t shape[3];
  ptrdiff_t strides[3];
  for (int d = 0; d < a.ndim; ++d) {
    shape[d] = static_cast<size_t>(a.shape[d]);
    strides[d] = static_cast<ptrdiff_t>(a.strides[d]);
  }
  nb::gil_scoped_release release;
  ndl::detail::copy_strided_to_host(a.queue, a.owner, a.data, a.itemsize(), a.ndim, shape, strides,
                                    dst, deps)
      .wait();
}

nb::object to_numpy(const py_array& a, nb::handle depends) {
  nb::list shape;
  for (int d = 0; d < a.ndim; ++d)
    shape.append(a.shape[d]);
  nb::object out = numpy().attr("empty")(nb::tuple(shape), dtype_object(a.dtype));
  Py_buffer view;
  if (PyObject_GetBuffer(out.ptr(), &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0)
    throw nb::python_error();
  try {
    copy_to_host(a, view.buf, depends);
  } catch (...) {
    PyBuffer_Release(&view);
    throw;
  }
  PyBuffer_Release(&view);
  return out;
}

rt_dtype dtype_from_format(const char* fmt, size_t itemsize) {
  while (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '|')
    ++fmt;
  if (fmt[0] && !fmt[1]) {
    switch (fmt[0]) {
      case '?':
        return rt_dtype::b8;
      case 'b':
        return rt_dtype::i8;
      case 'B':
        return rt_dtype::u8;
      case 'h':
        return rt_dtype::i16;
      case 'H':
        return rt_dtype::u16;
      case 'i':
        return itemsize == 4 ? rt_dtype::i32 : rt_dtype::i64;
      case 'I':
        return itemsize == 4 ? rt_dtype::u32 : rt_dtype::u64;
      case 'l':
      case 'q':
        return itemsize == 8 ? rt_dtype::i64 : rt_dtype::i32;
      case 'L':
      case 'Q':
        return itemsize == 8 ? rt_dtype::u64 : rt_dtype::u32;
      case 'f':
        return rt_dtype::f32;
      case 'd':
        return rt_dtype::f64;
    }
  }
  throw nb::type_error(
      ("ndlaunch arrays do not support the element format '" + std::string(fmt) + "'").c_str());
}

py_array from_host_buffer(nb::handle obj, const ndl::queue& q) {
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0)
    throw nb::python_error();
  struct release_guard {
    Py_buffer* v;
    ~release_guard() { PyBuffer_Release(v); }
  } guard{&view};
  if (view.ndim < 1 || view.ndim > 3)
    ndl::detail::throw_error(
        ndl::errc::invalid_argument,
        "ndlaunch arrays have 1, 2 or 3 dimensions, got " + std::to_string(view.ndim));
  const rt_dtype t =
      dtype_from_format(view.format ? view.format : "B", static_cast<size_t>(view.itemsize));
  int64_t shape[3];
  for (int d = 0; d < view.ndim; ++d)
    shape[d] = view.shape[d];
  py_array a = make_array(q, t, view.ndim, shape, false);
  if (view.len > 0) {
    nb::gil_scoped_release release;
    q.memcpy(a.data, view.buf, static_cast<size_t>(view.len));
  }
  return a;
}

template <class T>
void fill_as(const py_array& a, const char* value) {
  T v;
  std::memcpy(&v, value, sizeof v);
  nb::gil_scoped_release release;
  a.queue.fill(static_cast<T*>(a.data), v, a.size());
}

bool is_f_contiguous(const py_array& a) {
  int64_t expect = 1;
  for (int d = 0; d < a.ndim; ++d) {
    if (a.shape[d] != 1 && a.strides[d] != expect) return false;
    expect *= a.shape[d];
  }
  return true;
}

void fill(const py_array& a, nb::handle value) {
  // The value converted as NumPy converts it (OverflowError when out of the type's range).
  nb::object host = numpy().attr("asarray")(value, dtype_object(a.dtype));
  if (nb::cast<int>(host.attr("ndim")) != 0)
    throw nb::type_error("fill: the value must be a scalar");
  if (a.size() == 0) return;
  // queue.fill sets size() consecutive elements from the data pointer: a strided view
  // (a[::2], a[::-1], a[:, 1:]) does not hold them.
  if (!is_c_contiguous(a) && !is_f_contiguous(a))
    ndl::detail::throw_error(ndl::errc::unsupported, "fill: the array is a strided view (strides " +
                                                         shape_string(a.ndim, a.strides) +
                                                         "); fill sets contiguous arrays only");
  nb::bytes bytes = nb::cast<nb::bytes>(host.attr("tobytes")());
  const char* v = bytes.c_str();
  switch (a.dtype) {
    case rt_dtype::b8:
      return fill_as<bool>(a, v);
    case rt_dtype::i8:
      return fill_as<int8_t>(a, v);
    case rt_dtype::i16:
      return fill_as<int16_t>(a, v);
    case rt_dtype::i32:
      return fill_as<int32_t>(a, v);
    case rt_dtype::i64:
      return fill_as<int64_t>(a, v);
    case rt_dtype::u8:
      return fill_as<uint8_t>(a, v);
    case rt_dtype::u16:
      return fill_as<uint16_t>(a, v);
    case rt_dtype::u32:
      return fill_as<uint32_t>(a, v);
    case rt_dtype::u64:
      return fill_as<uint64_t>(a, v);
    case rt_dtype::f32:
      return fill_as<float>(a, v);
    case rt_dtype::f64:
      return fill_as<double>(a, v);
  }
}

/// The CUDA ordinal of a device ("cuda:3" -> 3), or -1 for other devices.
int cuda_ordinal(const ndl::device& d) {
  if (d.backend() != ndl::backend_kind::cuda) return -1;
  const auto& f = d.filter_string();
  return std::stoi(f.substr(f.find(':') + 1));
}

// ---- DLPack export ---------------------------------------------------------------------------

template <class Managed>
struct export_ctx {
  Managed managed{};
  int64_t shape[3];
  int64_t strides[3];
  // The array's memory, kept alive by the tensor. Not the Python object: releasing it takes
  // no GIL, so a consumer may release the tensor on any thread and while the interpreter
  // shuts down (when Py_IsInitialized() is already false but the array still exists).
  std::shared_ptr<const void> owner;
};

template <class Managed>
void export_deleter(Managed* m) {
  delete static_cast<export_ctx<Managed>*>(m->manager_ctx);
}

template <class Managed>
void capsule_destructor(PyObject* cap) {
  const char* name =
      std::is_same_v<Managed, dlpack::DLManagedTensor> ? "dltensor" : "dltensor_versioned";
  if (PyCapsule_IsValid(cap, name)) {  // never consumed: we still own the tensor
    auto* m = static_cast<Managed*>(PyCapsule_GetPointer(cap, name));
    if (m && m->deleter) m->deleter(m);
  }
}

dlpack::DLDevice dl_device_of(const py_array& a) {
  const int ord = cuda_ordinal(a.queue.get_device());
  if (ord < 0) return {dlpack::kDLCPU, 0};
  return {dlpack::kDLCUDA, ord};
}

template <class Managed>
nb::object export_dlpack(const py_array& a, const char* name) {
  auto* ctx = new export_ctx<Managed>();
  dlpack::DLTensor& t = ctx->managed.dl_tensor;
  t.data = a.data;
  t.device = dl_device_of(a);
  t.ndim = a.ndim;
  const auto& r = row(a.dtype);
  t.dtype.code = dl_code(r);
  t.dtype.bits = static_cast<uint8_t>(r.size * 8);
  t.dtype.lanes = 1;
  for (int d = 0; d < a.ndim; ++d) {
    ctx->shape[d] = a.shape[d];
    ctx->strides[d] = a.strides[d];
  }
  t.shape = ctx->shape;
  t.strides = ctx->strides;
  t.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = &export_deleter<Managed>;
  if constexpr (std::is_same_v<Managed, dlpack::DLManagedTensorVersioned>) {
    ctx->managed.version = {1, 0};
    ctx->managed.flags = 0;
  }
  ctx->owner = a.owner;
  PyObject* cap = PyCapsule_New(&ctx->managed, name, &capsule_destructor<Managed>);
  if (!cap) {
    export_deleter(&ctx->managed);
    throw nb::python_error();
  }
  return nb::steal(cap);
}

nb::object dlpack_export(nb::handle self, nb::handle stream, nb::handle max_version,
                         nb::handle dl_device, nb::handle copy) {
  const py_array& a = nb::cast<const py_array&>(self);
  if (!copy.is_none() && PyObject_IsTrue(copy.ptr()))
    throw nb::buffer_error(
        "ndlaunch.Array.__dlpack__: copy=True is not supported (export "
        "shares the array's memory)");
  if (!dl_device.is_none()) {
    const auto mine = dl_device_of(a);
    auto want = nb::cast<std::pair<int, int>>(dl_device);
    if (want.first != mine.device_type || want.second != mine.device_id)
      throw nb::buffer_error(
          "ndlaunch.Array.__dlpack__: the array lives on another device than "
          "dl_device asks for, and export does not copy");
  }
  (void)stream;  // whatever the consumer's stream: the array's queue is drained first
  {
    nb::gil_scoped_release release;
    a.queue.wait();
  }
  bool versioned = false;
  if (!max_version.is_none()) versioned = nb::cast<int>(max_version[0]) >= 1;
  if (versioned) return export_dlpack<dlpack::DLManagedTensorVersioned>(a, "dltensor_versioned");
  return export_dlpack<dlpack::DLManagedTensor>(a, "dltensor");
}

// ---- DLPack import ---------------------------------------------------------------------------

rt_dtype dtype_from_dl(dlpack::DLDataType t) {
  if (t.lanes != 1) throw nb::buffer_error("from_dlpack: vector element types are not supported");
  for (const auto& r : dtype_rows) {
    if (dl_code(r) == t.code && r.size * 8 == t.bits) return r.t;
  }
  throw nb::buffer_error(("from_dlpack: unsupported element type (code " + std::to_string(t.code) +
                          ", " + std::to_string(t.bits) + " bits)")
                             .c_str());
}

py_array dlpack_import(nb::handle obj, nb::handle queue_arg) {
  if (nb::isinstance<py_array>(obj)) {
    py_array a = nb::cast<py_array>(obj);
    if (queue_arg.is_none()) return a;
    // The same memory, bound to the queue asked for (as an export and import would do).
    ndl::queue q = queue_from(queue_arg);
    if (!(q.get_device() == a.queue.get_device()))
      ndl::detail::throw_error(ndl::errc::invalid_argument,
                               "from_dlpack: the array lives on " +
                                   a.queue.get_device().filter_string() + " but the queue is on " +
                                   q.get_device().filter_string());
    {
      nb::gil_scoped_release release;
      a.queue.wait();
    }
    a.queue = q;
    return a;
  }
  if (!nb::hasattr(obj, "__dlpack__"))
    throw nb::type_error("from_dlpack: the object does not implement __dlpack__");
  auto dev = nb::cast<std::pair<int, int>>(obj.attr("__dlpack_device__")());
  ndl::device target;
  switch (dev.first) {
    case dlpack::kDLCPU:
    case dlpack::kDLCUDAHost:
      target = ndl::device("cpu");
      break;
    case dlpack::kDLCUDA:
    case dlpack::kDLCUDAManaged:
      target = ndl::device("cuda:" + std::to_string(dev.second));
      break;
    default:
      throw nb::buffer_error(("from_dlpack: DLPack device type " + std::to_string(dev.first) +
                              " has no ndlaunch device")
                                 .c_str());
  }
  ndl::queue q = queue_arg.is_none() ? ndl::queue::default_queue(target) : queue_from(queue_arg);
  if (!(q.get_device() == target))
    ndl::detail::throw_error(ndl::errc::invalid_argument,
                             "from_dlpack: the tensor lives on " + target.filter_string() +
                                 " but the queue is on " + q.get_device().filter_string());
  nb::object cap;
  nb::kwargs kw;
  // No stream: a CUDA producer then orders its work before the legacy default stream, which
  // ndlaunch's (non-blocking) streams do not wait for; the device is synchronised below, once
  // the producer has enqueued whatever it must.
  try {
    kw["max_version"] = nb::make_tuple(1, 0);
    cap = obj.attr("__dlpack__")(**kw);
  } catch (nb::python_error& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    PyDict_DelItemString(kw.ptr(), "max_version");
    cap = obj.attr("__dlpack__")(**kw);
  }
  if (target.backend() != ndl::backend_kind::cpu) {
    // The producer's writes may still be in flight on its own streams.
    nb::gil_scoped_release release;
    ndl::detail::synchronize_device(target);
  }
  py_array a;
  a.queue = q;
  const dlpack::DLTensor* t = nullptr;
  if (PyCapsule_IsValid(cap.ptr(), "dltensor_versioned")) {
    auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(
        PyCapsule_GetPointer(cap.ptr(), "dltensor_versioned"));
    if (m->version.major > 1) throw nb::buffer_error("from_dlpack: DLPack major version > 1");
    // Kernels may write to any array: a read-only tensor is refused (the producer keeps it).
    if (m->flags & dlpack::DLPACK_FLAG_BITMASK_READ_ONLY)
      throw nb::buffer_error(
          "from_dlpack: the tensor is read-only, and ndlaunch arrays are writable "
          "(copy it with ndlaunch.asarray)");
    t = &m->dl_tensor;
    a.owner = std::shared_ptr<const void>(m, [](const void* p) {
      auto* mm = static_cast<dlpack::DLManagedTensorVersioned*>(const_cast<void*>(p));
      if (mm->deleter) mm->deleter(mm);
    });
    PyCapsule_SetName(cap.ptr(), "used_dltensor_versioned");
  } else if (PyCapsule_IsValid(cap.ptr(), "dltensor")) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
    t = &m->dl_tensor;
    a.owner = std::shared_ptr<const void>(m, [](const void* p) {
      auto* mm = static_cast<dlpack::DLManagedTensor*>(const_cast<void*>(p));
      if (mm->deleter) mm->deleter(mm);
    });
    PyCapsule_SetName(cap.ptr(), "used_dltensor");
  } else {
    throw nb::type_error("from_dlpack: __dlpack__ did not return a DLPack capsule");
  }
  if (t->ndim < 1 || t->ndim > 3)
    ndl::detail::throw_error(
        ndl::errc::invalid_argument,
        "from_dlpack: ndlaunch arrays have 1, 2 or 3 dimensions, got " + std::to_string(t->ndim));
  a.dtype = dtype_from_dl(t->dtype);
  a.ndim = t->ndim;
  a.data = static_cast<char*>(t->data) + t->byte_offset;
  int64_t expect = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    a.shape[d] = t->shape[d];
    a.strides[d] = t->strides ? t->strides[d] : expect;
    expect *= t->shape[d];
  }
  return a;
}

// ---- Indexing --------------------------------------------------------------------------------

nb::object getitem(nb::handle self, nb::handle key) {
  const py_array& a = nb::cast<const py_array&>(self);
  std::vector<nb::handle> items;
  if (nb::isinstance<nb::tuple>(key))
    for (nb::handle k : key)
      items.push_back(k);
  else
    items.push_back(key);
  // Expand one Ellipsis into full slices.
  size_t ellipsis = items.size();
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].is(Py_Ellipsis)) {
      if (ellipsis != items.size()) throw nb::index_error("an index can hold one Ellipsis");
      ellipsis = i;
    }
  const size_t explicit_dims = items.size() - (ellipsis != items.size() ? 1 : 0);
  if (explicit_dims > static_cast<size_t>(a.ndim))
    throw nb::index_error(
        ("too many indices: the array has " + std::to_string(a.ndim) + " dimensions").c_str());
  py_array out = a;
  out.ndim = 0;
  char* base = static_cast<char*>(a.data);
  int dim = 0;
  auto take = [&](nb::handle k) {
    const int64_t n = a.shape[dim];
    if (PyLong_Check(k.ptr()) && !PyBool_Check(k.ptr())) {
      int64_t i = nb::cast<int64_t>(k);
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        throw nb::index_error(("index " + std::to_string(nb::cast<int64_t>(k)) +
                               " is out of bounds for dimension " + std::to_string(dim) +
                               " of extent " + std::to_string(n))
                                  .c_str());
      if (base) base += i * a.strides[dim] * static_cast<int64_t>(a.itemsize());
    } else if (PySlice_Check(k.ptr())) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(k.ptr(), &start, &stop, &step) < 0) throw nb::python_error();
      const Py_ssize_t len = PySlice_AdjustIndices(static_cast<Py_ssize_t>(n), &start, &stop, step);
      if (base && len > 0) base += start * a.strides[dim] * static_cast<int64_t>(a.itemsize());
      out.shape[out.ndim] = len;
      out.strides[out.ndim] = a.strides[dim] * step;
      ++out.ndim;
    } else {
      throw nb::type_error("ndlaunch arrays are indexed by integers, slices and one Ellipsis");
    }
    ++dim;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == ellipsis) {
      const int fill = a.ndim - static_cast<int>(explicit_dims);
      for (int f = 0; f < fill; ++f) {
        out.shape[out.ndim] = a.shape[dim];
        out.strides[out.ndim] = a.strides[dim];
        ++out.ndim;
        ++dim;
      }
      continue;
    }
    take(items[i]);
  }
  for (; dim < a.ndim; ++dim) {
    out.shape[out.ndim] = a.shape[dim];
    out.strides[out.ndim] = a.strides[dim];
    ++out.ndim;
  }
  out.data = base;
  if (out.ndim == 0) {  // one element: a NumPy scalar of the array's type
    py_array one = out;
    one.ndim = 1;
    one.shape[0] = 1;
    one.strides[0] = 1;
    nb::object host = to_numpy(one, nb::none());
    return host[nb::int_(0)];
  }
  return nb::cast(out);
}

nb::object cuda_array_interface(const py_array& a) {
  if (a.queue.get_device().backend() != ndl::backend_kind::cuda)
    throw nb::attribute_error("__cuda_array_interface__: the array is not on a CUDA device");
  {
    nb::gil_scoped_release release;
    a.queue.wait();  // the consumer reads it on its own streams
  }
  nb::dict d;
  nb::list shape, strides;
  for (int i = 0; i < a.ndim; ++i) {
    shape.append(a.shape[i]);
    strides.append(a.strides[i] * static_cast<int64_t>(a.itemsize()));
  }
  const auto& r = row(a.dtype);
  const char kind = r.kind;
  d["shape"] = nb::tuple(shape);
  d["typestr"] = std::string(1, '<') + kind + std::to_string(r.size);
  if (a.dtype == rt_dtype::b8) d["typestr"] = "|b1";
  d["data"] = nb::make_tuple(reinterpret_cast<uintptr_t>(a.size() ? a.data : nullptr), false);
  d["strides"] = is_c_contiguous(a) ? nb::object(nb::none()) : nb::object(nb::tuple(strides));
  d["version"] = 3;
  return d;
}

}  // namespace

size_t dtype_size(rt_dtype t) {
  return row(t).size;
}
const char* dtype_name(rt_dtype t) {
  return row(t).name;
}
rt_dtype dtype_from(nb::handle obj) {
  nb::object dt = numpy().attr("dtype")(obj);
  const std::string name = nb::cast<std::string>(dt.attr("name"));
  for (const auto& r : dtype_rows)
    if (name == r.name) return r.t;
  throw nb::type_error(("ndlaunch does not support the element type " + name +
                        " (bool, int8-64, uint8-64, float32 and float64 are supported)")
                           .c_str());
}

nb::object dtype_object(rt_dtype t) {
  return numpy().attr("dtype")(row(t).name);
}

py_array make_array(const ndl::queue& q, rt_dtype dtype, int ndim, const int64_t* shape,
                    bool fortran) {
  py_array a;
  a.queue = q;
  a.dtype = dtype;
  a.ndim = ndim;
  size_t n = 1;
  bool empty = false;
  for (int d = 0; d < ndim; ++d) {
    a.shape[d] = shape[d];
    if (shape[d] == 0) empty = true;
  }
  const size_t item = dtype_size(dtype);
  for (int d = 0; d < ndim && !empty; ++d)
    if (__builtin_mul_overflow(n, static_cast<size_t>(shape[d]), &n) ||
        n > static_cast<size_t>(INT64_MAX) / item)
      ndl::detail::throw_error(ndl::errc::out_of_memory,
                               "an array of shape " + shape_string(ndim, shape) + " and type " +
                                   dtype_name(dtype) + " does not fit in memory");
  if (empty) n = 0;
  int64_t s = 1;
  for (int i = 0; i < ndim; ++i) {
    const int d = fortran ? i : ndim - 1 - i;
    a.strides[d] = s;
    s *= shape[d] > 0 ? shape[d] : 1;
  }
  auto block = std::make_shared<ndl::detail::usm_block>(n * item, q, ndl::usm_kind::device);
  a.data = block->data();
  a.owner = std::move(block);
  return a;
}

void bind_array(nb::module_& m) {
  nb::class_<py_array>(m, "Array",
                       "An n-dimensional array (1 to 3 dimensions) on a device, bound to a "
                       "queue. Strides are in elements. Make one with ndlaunch.asarray, empty, "
                       "zeros, full or from_dlpack.")
      .def_prop_ro("shape",
                   [](const py_array& a) {
                     nb::list l;
                     for (int d = 0; d < a.ndim; ++d)
                       l.append(a.shape[d]);
                     return nb::tuple(l);
                   })
      .def_prop_ro(
          "strides",
          [](const py_array& a) {
            nb::list l;
            for (int d = 0; d < a.ndim; ++d)
              l.append(a.strides[d]);
            return nb::tuple(l);
          },
          "Strides in elements (not bytes).")
      .def_prop_ro("dtype", [](const py_array& a) { return dtype_object(a.dtype); })
      .def_prop_ro("ndim", [](const py_array& a) { return a.ndim; })
      .def_prop_ro("size", [](const py_array& a) { return a.size(); })
      .def_prop_ro("itemsize", [](const py_array& a) { return a.itemsize(); })
      .def_prop_ro("nbytes", [](const py_array& a) { return a.size() * a.itemsize(); })
      .def_prop_ro("queue", [](const py_array& a) { return a.queue; })
      .def_prop_ro("device", [](const py_array& a) { return a.queue.get_device(); })
      .def_prop_ro("is_c_contiguous", &is_c_contiguous)
      .def_prop_ro("data_ptr",
                   [](const py_array& a) { return reinterpret_cast<uintptr_t>(a.data); })
      .def("to_numpy", &to_numpy, nb::arg("depends") = nb::none(),
           "A NumPy copy (C order), after the array's queue reaches this point (and after "
           "`depends`, events to wait for on out-of-order queues).")
      .def(
          "__array__",
          [](const py_array& a, nb::handle dtype, nb::handle copy) {
            (void)copy;
            nb::object out = to_numpy(a, nb::none());
            return dtype.is_none() ? out : out.attr("astype")(dtype);
          },
          nb::arg("dtype") = nb::none(), nb::arg("copy") = nb::none())
      .def("fill", &fill, nb::arg("value"),
           "Sets every element of a contiguous array to `value` (converted as NumPy does).")
      .def("__getitem__", &getitem)
      .def("__len__", [](const py_array& a) { return a.shape[0]; })
      .def("__dlpack__", &dlpack_export, nb::kw_only(), nb::arg("stream") = nb::none(),
           nb::arg("max_version") = nb::none(), nb::arg("dl_device") = nb::none(),
           nb::arg("copy") = nb::none())
      .def("__dlpack_device__",
           [](const py_array& a) {
             const auto d = dl_device_of(a);
             return nb::make_tuple(d.device_type, d.device_id);
           })
      .def_prop_ro("__cuda_array_interface__", &cuda_array_interface)
      .def("__repr__", [](const py_array& a) {
        return "<ndlaunch.Array shape=" + shape_string(a.ndim, a.shape) +
               " dtype=" + dtype_name(a.dtype) + " on " + a.queue.get_device().filter_string() +
               ">";
      });

  m.def(
      "empty",
      [](nb::handle shape, nb::handle dtype, nb::handle queue, const std::string& order) {
        if (order != "C" && order != "F") throw nb::value_error("order must be 'C' or 'F'");
        auto s = shape_from(shape);
        return make_array(queue_from(queue), dtype_from(dtype), static_cast<int>(s.size()),
                          s.data(), order == "F");
      },
      nb::arg("shape"), nb::arg("dtype") = "float64", nb::arg("queue") = nb::none(),
      nb::arg("order") = "C",
      "An uninitialised array. `queue` is a Queue, a Device, a filter string or None (the "
      "default device's default queue).");
  m.def(
      "_fill", [](const py_array& a, nb::handle v) { fill(a, v); }, nb::arg("array"),
      nb::arg("value"));
  m.def(
      "_from_host",
      [](nb::handle obj, nb::handle queue) { return from_host_buffer(obj, queue_from(queue)); },
      nb::arg("obj"), nb::arg("queue") = nb::none());
  m.def("from_dlpack", &dlpack_import, nb::arg("obj"), nb::arg("queue") = nb::none(),
        "An Array sharing the memory of any object with __dlpack__ (NumPy, PyTorch, CuPy...); "
        "CPU tensors land on the CPU device, CUDA tensors on their GPU.");
}

}  // namespace ndlaunch
