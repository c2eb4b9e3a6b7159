// ndlaunch.call_kernel and call_kernel_async: Python arguments become type-erased kernel
// arguments (rt_arg), the kernel's specialisation for their types is found (compiled on the
// first call), and the runtime gets an ordinary launch record (include/ndl/detail/rt_kernel.hpp).
#include <nanobind/stl/string.h>

#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "ndl/python.hpp"
#include "ndlaunch_py.hpp"

namespace ndlaunch {

std::vector<ndl::event> events_from(nb::handle events);
ndl::queue queue_from(nb::handle h);

namespace {

using ndl::detail::rt_arg;
using ndl::detail::rt_code;
using ndl::detail::rt_kernel;
using ndl::detail::rt_kind;

constexpr int max_args = 64;

/// Which specialisation a launch needs: the device, the index space and the argument codes.
struct spec_key {
  uintptr_t device = 0;
  unsigned short space = 0;  // dims | is_nd << 4
  unsigned short n = 0;
  unsigned short codes[max_args];

  bool operator==(const spec_key& o) const {
    return device == o.device && space == o.space && n == o.n &&
           std::memcmp(codes, o.codes, n * sizeof(codes[0])) == 0;
  }
};
struct spec_hash {
  size_t operator()(const spec_key& k) const {
    uint64_t h = 1469598103934665603ull ^ k.device;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(k.space);
    mix(k.n);
    for (unsigned i = 0; i < k.n; ++i)
      mix(k.codes[i]);
    return static_cast<size_t>(h);
  }
};

/// ndlaunch.KernelBase: a kernel's specialisations, found by argument types.
struct py_kernel {
  std::string name;
  std::unordered_map<spec_key, const rt_kernel*, spec_hash> specs;
};

/// The arguments of one launch, converted.
struct launch_args {
  // Left uninitialised (4.6 KB a launch): convert() initialises each argument it fills.
  union {
    rt_arg args[max_args];
  };
  launch_args() {}
  const py_array* arrays[max_args];  // the array arguments, in order
  int positions[max_args];           // their argument positions
  int n = 0;
  int n_arrays = 0;
  size_t local_bytes = 0;
  bool has_local = false;
};

/// The Python types the launcher tells apart, looked up once (nb::isinstance looks the C++
/// type up on every call; a launch checks several arguments).
struct launch_types {
  PyTypeObject* array;
  PyTypeObject* local;
  PyTypeObject* range;
  PyTypeObject* nd_range;
};
const launch_types& types() {
  static const launch_types t{reinterpret_cast<PyTypeObject*>(nb::type<py_array>().ptr()),
                              reinterpret_cast<PyTypeObject*>(nb::type<py_local>().ptr()),
                              reinterpret_cast<PyTypeObject*>(nb::type<py_range>().ptr()),
                              reinterpret_cast<PyTypeObject*>(nb::type<py_nd_range>().ptr())};
  return t;
}
PyTypeObject* kernel_type() {
  static PyTypeObject* t = reinterpret_cast<PyTypeObject*>(nb::type<py_kernel>().ptr());
  return t;
}
inline bool is_a(nb::handle h, PyTypeObject* t) {
  return Py_TYPE(h.ptr()) == t || PyType_IsSubtype(Py_TYPE(h.ptr()), t);
}

[[noreturn]] void bad_argument(const std::string& kernel, int pos, nb::handle obj) {
  const std::string type = nb::cast<std::string>(nb::str(obj.type().attr("__name__")));
  throw nb::type_error(("kernel '" + kernel + "', argument " + std::to_string(pos) +
                        ": kernels take ndlaunch.Array, ndlaunch.LocalAccessor, bool, int, "
                        "float and NumPy scalars, not " +
                        type)
                           .c_str());
}

void set_scalar(rt_arg& a, rt_dtype t, const void* bytes, size_t size) {
  a.code = rt_code(rt_kind::scalar, t, 0);
  a.bits = 0;
  std::memcpy(&a.bits, bytes, size);
}

void convert(const std::string& kernel, nb::handle obj, launch_args& out) {
  const int pos = out.n;
  if (pos >= max_args)
    throw nb::type_error(
        ("kernel '" + kernel + "': more than " + std::to_string(max_args) + " arguments").c_str());
  rt_arg& a = *new (&out.args[out.n++]) rt_arg();
  PyObject* o = obj.ptr();
  const launch_types& t = types();
  if (is_a(obj, t.array)) {
    const py_array& arr = *nb::inst_ptr<py_array>(obj);
    a.code = rt_code(rt_kind::array, arr.dtype, arr.ndim);
    a.data = arr.data;
    for (int d = 0; d < arr.ndim; ++d) {
      a.shape[d] = arr.shape[d];
      a.strides[d] = arr.strides[d];
    }
    out.arrays[out.n_arrays] = &arr;
    out.positions[out.n_arrays++] = pos;
  } else if (PyFloat_CheckExact(o)) {
    const double v = PyFloat_AS_DOUBLE(o);
    set_scalar(a, rt_dtype::f64, &v, sizeof v);
  } else if (PyBool_Check(o)) {
    const bool v = o == Py_True;
    set_scalar(a, rt_dtype::b8, &v, sizeof v);
  } else if (PyLong_Check(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow)
      throw nb::type_error(("kernel '" + kernel + "', argument " + std::to_string(pos) +
                            ": the int does not fit int64 (pass a numpy.uint64 for larger "
                            "unsigned values)")
                               .c_str());
    const int64_t v64 = v;
    set_scalar(a, rt_dtype::i64, &v64, sizeof v64);
  } else if (PyFloat_Check(o)) {
    const double v = PyFloat_AsDouble(o);
    set_scalar(a, rt_dtype::f64, &v, sizeof v);
  } else if (is_a(obj, t.local)) {
    const py_local& l = *nb::inst_ptr<py_local>(obj);
    a.code = rt_code(rt_kind::local, l.dtype, l.ndim);
    size_t bytes = dtype_size(l.dtype);
    for (int d = 0; d < l.ndim; ++d) {
      a.shape[d] = l.shape[d];
      bytes *= static_cast<size_t>(l.shape[d]);
    }
    // As ndl::detail::local_binding::place: each accessor aligned to 16 bytes at least.
    const size_t align = dtype_size(l.dtype) > 16 ? dtype_size(l.dtype) : 16;
    const size_t offset = (out.local_bytes + align - 1) / align * align;
    a.bits = offset;
    out.local_bytes = offset + bytes;
    out.has_local = true;
  } else if (PyObject_CheckBuffer(o)) {  // NumPy scalars (and 0-d arrays) keep their dtype
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_FORMAT | PyBUF_ND) != 0) throw nb::python_error();
    struct guard {
      Py_buffer* v;
      ~guard() { PyBuffer_Release(v); }
    } g{&view};
    if (view.ndim != 0 || !view.format) bad_argument(kernel, pos, obj);
    rt_dtype t;
    try {
      t = dtype_from(obj.attr("dtype"));
    } catch (const std::exception&) {  // numpy.dtype failed, or a type ndlaunch lacks
      bad_argument(kernel, pos, obj);
    }
    set_scalar(a, t, view.buf, dtype_size(t));
  } else {
    bad_argument(kernel, pos, obj);
  }
}

const ndl::detail::index_space& space_of(nb::handle h, ndl::detail::index_space& tmp) {
  if (is_a(h, types().range)) return nb::inst_ptr<py_range>(h)->space;
  if (is_a(h, types().nd_range)) return nb::inst_ptr<py_nd_range>(h)->space;
  // A plain int or tuple is a Range.
  nb::object r = nb::module_::import_("ndlaunch._ndlaunch").attr("Range")(h);
  tmp = nb::inst_ptr<py_range>(r)->space;
  return tmp;
}

/// The queue of a launch: the explicit one, else the arrays' one (compute follows data),
/// else the default queue.
ndl::queue launch_queue(const std::string& kernel, const launch_args& la, nb::handle queue_kw) {
  if (!queue_kw.is_none()) {
    ndl::queue q = queue_from(queue_kw);
    for (int i = 0; i < la.n_arrays; ++i)
      if (!(la.arrays[i]->queue.get_device() == q.get_device()))
        ndl::detail::throw_error(
            ndl::errc::invalid_argument,
            "kernel '" + kernel + "': argument " + std::to_string(la.positions[i]) +
                " is an array on " + la.arrays[i]->queue.get_device().filter_string() +
                " but the launch's queue is on " + q.get_device().filter_string());
    return q;
  }
  if (la.n_arrays == 0) return ndl::queue{};
  const ndl::queue& first = la.arrays[0]->queue;
  for (int i = 1; i < la.n_arrays; ++i)
    if (!(la.arrays[i]->queue == first)) {
      std::string msg = "kernel '" + kernel +
                        "': the array arguments are on different queues (compute follows data; "
                        "copy them to one queue or pass queue=):";
      for (int j = 0; j < la.n_arrays; ++j)
        msg += " argument " + std::to_string(la.positions[j]) + " on " +
               la.arrays[j]->queue.describe() + (j + 1 < la.n_arrays ? ";" : "");
      ndl::detail::throw_error(ndl::errc::queue_inference, msg);
    }
  return first;
}

const rt_kernel* specialisation(nb::handle kernel_obj, py_kernel& k,
                                const ndl::detail::index_space& space, const launch_args& la,
                                const ndl::queue& q) {
  spec_key key;
  key.device = reinterpret_cast<uintptr_t>(q.get_device().impl());
  key.space = static_cast<unsigned short>(space.dims | (space.is_nd ? 16 : 0));
  key.n = static_cast<unsigned short>(la.n);
  for (int i = 0; i < la.n; ++i)
    key.codes[i] = la.args[i].code;
  auto it = k.specs.find(key);
  if (it != k.specs.end()) return it->second;
  nb::list codes;
  for (int i = 0; i < la.n; ++i)
    codes.append(la.args[i].code);
  // The Python side compiles (or finds in a cache) and loads the specialisation.
  nb::object addr =
      kernel_obj.attr("_specialize")(q.get_device(), space.is_nd, space.dims, nb::tuple(codes));
  const auto* spec = reinterpret_cast<const rt_kernel*>(nb::cast<uintptr_t>(addr));
  if (!spec) throw nb::value_error("_specialize returned no kernel");
  k.specs.emplace(key, spec);
  return spec;
}

/// An asynchronous launch's payload and the owners of its arrays, in one allocation (this
/// object, then the owners, then the payload); destroyed by the runtime after the kernel,
/// without the GIL.
class rt_owned final : public ndl::detail::owned_payload {
 public:
  static std::unique_ptr<rt_owned> make(const rt_kernel* k, int n_owners) {
    const size_t align = k->payload_align > alignment ? k->payload_align : alignment;
    const size_t owners_at = round_up(sizeof(rt_owned), alignof(std::shared_ptr<const void>));
    const size_t payload_at = round_up(
        owners_at + sizeof(std::shared_ptr<const void>) * static_cast<size_t>(n_owners), align);
    void* mem = ::operator new(payload_at + k->payload_size, std::align_val_t(alignment));
    auto* self = new (mem)
        rt_owned(k, static_cast<char*>(mem) + owners_at, static_cast<char*>(mem) + payload_at);
    return std::unique_ptr<rt_owned>(self);
  }
  ~rt_owned() override {
    if (built_) k_->destroy(payload_);
    for (int i = 0; i < n_owners_; ++i)
      owners_[i].~shared_ptr();
  }
  static void operator delete(void* p) { ::operator delete(p, std::align_val_t(alignment)); }

  void* payload() { return payload_; }
  void built() { built_ = true; }
  void own(const std::shared_ptr<const void>& o) {
    new (&owners_[n_owners_++]) std::shared_ptr<const void>(o);
  }

 private:
  static constexpr size_t alignment = 64;
  static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
  rt_owned(const rt_kernel* k, void* owners, void* payload)
      : k_(k), owners_(static_cast<std::shared_ptr<const void>*>(owners)), payload_(payload) {}

  const rt_kernel* k_;
  std::shared_ptr<const void>* owners_;
  void* payload_;
  int n_owners_ = 0;
  bool built_ = false;
};

ndl::detail::kernel_record make_record(const rt_kernel* spec, const ndl::detail::index_space& space,
                                       const launch_args& la, const void* payload) {
  ndl::detail::kernel_record rec;
  rec.kernel_type = spec->kernel_type ? spec->kernel_type : &typeid(rt_kernel);
  rec.name = spec->name;
  rec.space = space;
  rec.payload = payload;
  rec.local_bytes = la.local_bytes;
  rec.cpu_entry = spec->cpu_entry;
  rec.cuda_entry = spec->cuda_entry;
  return rec;
}

struct prepared {
  py_kernel* k;
  const rt_kernel* spec;
  ndl::queue q;
  ndl::detail::index_space space;
};

prepared prepare(nb::handle kernel_obj, nb::handle space_obj, const nb::args& args,
                 nb::handle queue_kw, launch_args& la) {
  nb::handle kh = kernel_obj;
  nb::object wrapped;
  if (!is_a(kh, kernel_type())) {
    // A kernel table exported by a C++ extension (a capsule), or a mistake: Python decides.
    wrapped = nb::module_::import_("ndlaunch").attr("_as_kernel")(kh);
    kh = wrapped;
  }
  py_kernel* k = nb::inst_ptr<py_kernel>(kh);
  ndl::detail::index_space tmp;
  const ndl::detail::index_space& space = space_of(space_obj, tmp);
  for (size_t i = 0; i < args.size(); ++i)
    convert(k->name, args[i], la);
  if (la.has_local && !space.is_nd)
    ndl::detail::throw_error(ndl::errc::invalid_argument,
                             "kernel '" + k->name +
                                 "': a LocalAccessor argument needs an NdRange launch "
                                 "(work-groups), not a Range");
  ndl::queue q = launch_queue(k->name, la, queue_kw);
  const rt_kernel* spec = specialisation(kh, *k, space, la, q);
  return {k, spec, q, space};
}

void call_kernel(nb::handle kernel, nb::handle space, nb::args args, nb::handle queue) {
  launch_args la;
  prepared p = prepare(kernel, space, args, queue, la);
  alignas(64) unsigned char local_storage[1024];
  void* storage = local_storage;
  std::unique_ptr<unsigned char[]> heap;
  if (p.spec->payload_size > sizeof local_storage || p.spec->payload_align > 64) {
    heap.reset(new unsigned char[p.spec->payload_size + p.spec->payload_align]);
    auto addr = reinterpret_cast<uintptr_t>(heap.get());
    storage = reinterpret_cast<void*>((addr + p.spec->payload_align - 1) / p.spec->payload_align *
                                      p.spec->payload_align);
  }
  p.spec->build(*p.spec, la.args, storage);
  struct destroy_guard {
    const rt_kernel* k;
    void* s;
    ~destroy_guard() { k->destroy(s); }
  } guard{p.spec, storage};
  const auto rec = make_record(p.spec, p.space, la, storage);
  // The arrays stay alive: the caller's references are held for the whole call.
  nb::gil_scoped_release release;
  ndl::detail::submit_sync(p.q.impl(), rec);
}

nb::tuple call_kernel_async(nb::handle kernel, nb::handle space, nb::handle dependent_events,
                            nb::args args, nb::handle queue) {
  launch_args la;
  prepared p = prepare(kernel, space, args, queue, la);
  auto deps = events_from(dependent_events);
  auto owned = rt_owned::make(p.spec, la.n_arrays);
  for (int i = 0; i < la.n_arrays; ++i)
    owned->own(la.arrays[i]->owner);
  p.spec->build(*p.spec, la.args, owned->payload());
  owned->built();
  const auto rec = make_record(p.spec, p.space, la, owned->payload());
  ndl::launch_events ev = ndl::detail::submit_async(p.q.impl(), rec, std::move(owned), deps);
  return nb::make_tuple(std::move(ev.host_event), std::move(ev.device_event));
}

/// The specialisations of a kernel table exported by a C++ extension (ndl/python.hpp).
nb::list capsule_specs(nb::handle capsule) {
  if (!PyCapsule_IsValid(capsule.ptr(), ndl::python::capsule_name))
    throw nb::type_error("expected a kernel exported with NDL_PYTHON_EXPORT_KERNEL");
  const auto* t = static_cast<const ndl::python::kernel_table*>(
      PyCapsule_GetPointer(capsule.ptr(), ndl::python::capsule_name));
  const std::string name = t->name ? t->name : "";
  if (t->abi != ndl::detail::rt_abi_version)
    ndl::detail::throw_error(ndl::errc::invalid_argument,
                             "kernel '" + name + "' was exported for ndlaunch kernel ABI " +
                                 std::to_string(t->abi) + ", this ndlaunch has " +
                                 std::to_string(ndl::detail::rt_abi_version) +
                                 ": rebuild the extension");
  if (t->checked != NDL_CHECKED)
    ndl::detail::throw_error(ndl::errc::invalid_argument,
                             "kernel '" + name + "' was exported from an extension built " +
                                 (t->checked ? "with" : "without") +
                                 " NDL_CHECKED, unlike this ndlaunch: rebuild it");
  nb::list out;
  for (int i = 0; i < t->count; ++i) {
    const rt_kernel* s = t->specs[i];
    nb::list codes;
    for (int j = 0; j < s->nargs; ++j)
      codes.append(s->arg_codes[j]);
    out.append(nb::make_tuple(reinterpret_cast<uintptr_t>(s), s->is_nd, s->dims, nb::tuple(codes),
                              s->cuda_entry != nullptr));
  }
  return out;
}

}  // namespace

void bind_launch(nb::module_& m) {
  nb::class_<py_kernel>(m, "KernelBase",
                        "A kernel with specialisations per argument types (ndlaunch.Kernel "
                        "compiles them; kernels exported by C++ extensions bring them).")
      .def(
          "__init__",
          [](py_kernel* self, const std::string& name) {
            new (self) py_kernel{name, {}};
          },
          nb::arg("name"))
      .def_prop_ro("name", [](const py_kernel& k) { return k.name; })
      .def_prop_ro("num_specializations", [](const py_kernel& k) { return k.specs.size(); });

  m.def("call_kernel", &call_kernel, nb::arg("kernel"), nb::arg("index_space"), nb::arg("args"),
        nb::kw_only(), nb::arg("queue") = nb::none(),
        "Runs the kernel over the index space and blocks until it has finished (releasing the "
        "GIL). The queue is the array arguments' one unless queue= names one.");
  m.def("call_kernel_async", &call_kernel_async, nb::arg("kernel"), nb::arg("index_space"),
        nb::arg("dependent_events"), nb::arg("args"), nb::kw_only(), nb::arg("queue") = nb::none(),
        "Submits the kernel after dependent_events; returns (host_event, device_event) at once. "
        "The arrays passed stay alive until the host event completes.");
  m.def("_capsule_specs", &capsule_specs, nb::arg("capsule"));
  m.def("_capsule_name", [](nb::handle capsule) {
    if (!PyCapsule_IsValid(capsule.ptr(), ndl::python::capsule_name)) return std::string();
    const auto* t = static_cast<const ndl::python::kernel_table*>(
        PyCapsule_GetPointer(capsule.ptr(), ndl::python::capsule_name));
    return std::string(t->name ? t->name : "");
  });
}

}  // namespace ndlaunch
