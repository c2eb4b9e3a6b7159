// The _ndlaunch extension module: errors, devices, queues, events, index spaces and the
// run-time compiler. Arrays are in array.cpp, launches in launch.cpp.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <vector>

#include "ndlaunch_py.hpp"

namespace ndlaunch {

namespace {

/// The Python exception class of each ndl::errc.
PyObject* error_classes[16] = {};
PyObject* base_error = nullptr;

PyObject* make_error_class(nb::module_& m, const char* name, PyObject* extra_base,
                           const char* doc) {
  std::string qual = std::string("ndlaunch.") + name;
  PyObject* bases =
      extra_base ? PyTuple_Pack(2, base_error, extra_base) : PyTuple_Pack(1, base_error);
  PyObject* cls = PyErr_NewExceptionWithDoc(qual.c_str(), doc, bases, nullptr);
  Py_DECREF(bases);
  if (!cls) throw nb::python_error();
  m.attr(name) = nb::handle(cls);
  return cls;
}

void raise(const ndl::error& e) {
  const auto code = static_cast<size_t>(e.code());
  PyObject* cls =
      code < std::size(error_classes) && error_classes[code] ? error_classes[code] : base_error;
  nb::object msg = nb::str(e.message().c_str(), e.message().size());
  PyObject* inst = PyObject_CallOneArg(cls, msg.ptr());
  if (!inst) return;  // the call raised
  nb::str code_name(ndl::to_string(e.code()).data(), ndl::to_string(e.code()).size());
  PyObject_SetAttrString(inst, "code", code_name.ptr());
  PyErr_SetObject(cls, inst);
  Py_DECREF(inst);
}

std::string status_name(ndl::event_status s) {
  switch (s) {
    case ndl::event_status::submitted:
      return "submitted";
    case ndl::event_status::running:
      return "running";
    case ndl::event_status::complete:
      return "complete";
  }
  return "unknown";
}

ndl::device device_from(nb::handle h) {
  if (h.is_none()) return ndl::device::default_device();
  if (nb::isinstance<ndl::device>(h)) return nb::cast<ndl::device>(h);
  if (nb::isinstance<nb::str>(h)) return ndl::device(nb::cast<std::string>(h));
  throw nb::type_error("expected an ndlaunch.Device, a filter string such as 'cuda:0', or None");
}

std::vector<size_t> extents(nb::handle h, const char* what) {
  std::vector<size_t> out;
  auto one = [&](nb::handle v) {
    if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
      throw nb::type_error((std::string(what) + ": extents must be integers").c_str());
    const long long x = nb::cast<long long>(v);
    if (x < 0)
      ndl::detail::throw_error(ndl::errc::invalid_range, std::string(what) + ": extent " +
                                                             std::to_string(x) + " is negative");
    out.push_back(static_cast<size_t>(x));
  };
  if (nb::isinstance<nb::tuple>(h) || nb::isinstance<nb::list>(h)) {
    for (nb::handle v : h)
      one(v);
  } else {
    one(h);
  }
  if (out.empty() || out.size() > 3)
    ndl::detail::throw_error(
        ndl::errc::invalid_range,
        std::string(what) + " has 1, 2 or 3 dimensions, got " + std::to_string(out.size()));
  return out;
}

/// Validates an nd-range through the C++ type (same checks and messages).
template <int D>
ndl::detail::index_space nd_space(const std::vector<size_t>& g, const std::vector<size_t>& l) {
  ndl::range<D> gr, lr;
  for (int d = 0; d < D; ++d) {
    gr[d] = g[static_cast<size_t>(d)];
    lr[d] = l[static_cast<size_t>(d)];
  }
  return ndl::detail::space_traits<ndl::nd_range<D>>::erase(ndl::nd_range<D>(gr, lr));
}

nb::tuple as_tuple(const size_t* v, int n) {
  nb::list l;
  for (int d = 0; d < n; ++d)
    l.append(v[d]);
  return nb::tuple(l);
}

std::vector<ndl::event> event_vector(nb::handle events) {
  std::vector<ndl::event> out;
  if (events.is_none()) return out;
  // The common case of launches without dependencies, before any type lookup.
  if ((PyList_CheckExact(events.ptr()) && PyList_GET_SIZE(events.ptr()) == 0) ||
      (PyTuple_CheckExact(events.ptr()) && PyTuple_GET_SIZE(events.ptr()) == 0))
    return out;
  if (nb::isinstance<ndl::event>(events)) {
    out.push_back(nb::cast<ndl::event>(events));
    return out;
  }
  for (nb::handle e : events) {
    if (!nb::isinstance<ndl::event>(e))
      throw nb::type_error("dependent events must be ndlaunch.Event objects");
    out.push_back(nb::cast<ndl::event>(e));
  }
  return out;
}

}  // namespace

std::vector<ndl::event> events_from(nb::handle events) {
  return event_vector(events);
}

ndl::queue queue_from(nb::handle h) {
  if (h.is_none()) return ndl::queue{};
  if (nb::isinstance<ndl::queue>(h)) return nb::cast<ndl::queue>(h);
  return ndl::queue::default_queue(device_from(h));
}

void bind_errors(nb::module_& m) {
  base_error = PyErr_NewExceptionWithDoc(
      "ndlaunch.Error",
      "Base class of ndlaunch's errors; `code` names the C++ ndl::errc (e.g. 'kernel_failure').",
      PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::handle(base_error);
  using ndl::errc;
  auto set = [&](errc c, const char* name, PyObject* extra, const char* doc) {
    error_classes[static_cast<size_t>(c)] = make_error_class(m, name, extra, doc);
  };
  set(errc::invalid_range, "InvalidRangeError", PyExc_ValueError,
      "An index space is malformed or exceeds the device's limits.");
  set(errc::queue_inference, "QueueInferenceError", PyExc_ValueError,
      "Array arguments of a launch live on different queues.");
  set(errc::invalid_argument, "InvalidArgumentError", PyExc_ValueError,
      "A value passed to ndlaunch is not acceptable.");
  set(errc::unsupported, "UnsupportedError", PyExc_NotImplementedError,
      "The operation is not available on this device or build.");
  set(errc::out_of_memory, "OutOfMemoryError", PyExc_MemoryError, "An allocation failed.");
  set(errc::kernel_failure, "KernelError", nullptr, "A kernel failed while running.");
  set(errc::device_lost, "DeviceLostError", nullptr, "The device can no longer be used.");
  set(errc::backend_failure, "BackendError", nullptr,
      "The backend (driver, operating system) reported an error.");
  set(errc::dependency_failed, "DependencyError", nullptr,
      "A command did not run because a command it depends on failed.");
  set(errc::compile_failure, "CompileError", nullptr,
      "Kernel source did not compile; the message holds the compiler's log.");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ndl::error& e) {
      raise(e);
    }
  });
}

void bind_runtime(nb::module_& m) {
  nb::class_<ndl::device>(m, "Device",
                          "A device: the CPU or an NVIDIA GPU. Device() is the default device; "
                          "Device('cuda:0'), Device('gpu'), Device('cpu') select by filter "
                          "string (as NDL_DEVICE and the C++ API).")
      .def(
          "__init__",
          [](ndl::device* self, nb::handle filter) { new (self) ndl::device(device_from(filter)); },
          nb::arg("filter") = nb::none())
      .def_prop_ro("name", &ndl::device::name)
      .def_prop_ro(
          "kind", [](const ndl::device& d) { return std::string(ndl::to_string(d.kind())); },
          "'cpu' or 'gpu'")
      .def_prop_ro(
          "backend", [](const ndl::device& d) { return std::string(ndl::to_string(d.backend())); },
          "'cpu' or 'cuda'")
      .def_prop_ro("filter_string", &ndl::device::filter_string, "e.g. 'cuda:0'")
      .def_prop_ro("compute_units", &ndl::device::compute_units)
      .def_prop_ro("max_work_group_size", &ndl::device::max_work_group_size)
      .def_prop_ro("local_memory_bytes", &ndl::device::local_memory_bytes)
      .def_prop_ro("is_cpu", &ndl::device::is_cpu)
      .def_prop_ro("is_gpu", &ndl::device::is_gpu)
      .def("__eq__",
           [](const ndl::device& a, nb::handle b) {
             return nb::isinstance<ndl::device>(b) && a == nb::cast<ndl::device>(b);
           })
      .def("__hash__", [](const ndl::device& d) { return reinterpret_cast<uintptr_t>(d.impl()); })
      .def("__repr__", [](const ndl::device& d) {
        return "<ndlaunch.Device " + d.filter_string() + ": " + d.name() + ">";
      });

  m.def(
      "devices",
      [](nb::handle filter) {
        return filter.is_none() ? ndl::device::all()
                                : ndl::device::all(nb::cast<std::string>(filter));
      },
      nb::arg("filter") = nb::none(),
      "The devices matching a filter string (all devices when None), in ordinal order.");

  nb::class_<ndl::event>(m, "Event",
                         "The completion of a command. wait() blocks (releasing the GIL) and "
                         "raises the command's error, if any.")
      .def(nb::init<>())
      .def("wait", &ndl::event::wait, nb::call_guard<nb::gil_scoped_release>())
      .def_prop_ro(
          "status", [](const ndl::event& e) { return status_name(e.status()); },
          "'submitted', 'running' or 'complete'")
      .def_prop_ro("is_complete", &ndl::event::is_complete)
      .def_prop_ro("has_error", &ndl::event::has_error)
      .def_prop_ro("profiling_submit", &ndl::event::profiling_submit,
                   "Submission time in ns (profiling queues)")
      .def_prop_ro("profiling_start", &ndl::event::profiling_start)
      .def_prop_ro("profiling_end", &ndl::event::profiling_end)
      .def("__eq__",
           [](const ndl::event& a, nb::handle b) {
             return nb::isinstance<ndl::event>(b) && a == nb::cast<ndl::event>(b);
           })
      .def("__hash__",
           [](const ndl::event& e) { return reinterpret_cast<uintptr_t>(e.state().get()); })
      .def("__repr__",
           [](const ndl::event& e) { return "<ndlaunch.Event " + status_name(e.status()) + ">"; });

  m.def(
      "wait",
      [](nb::handle events) {
        auto v = event_vector(events);
        nb::gil_scoped_release release;
        ndl::wait(v);
      },
      nb::arg("events"), "Waits for every event of a list; raises the first error.");

  nb::class_<ndl::queue>(m, "Queue",
                         "A queue of commands on one device: in order (the default) or out of "
                         "order, with profiling timestamps on request.")
      .def(
          "__init__",
          [](ndl::queue* self, nb::handle device, bool in_order, bool profiling) {
            new (self) ndl::queue(device_from(device), ndl::queue_options{in_order, profiling});
          },
          nb::arg("device") = nb::none(), nb::arg("in_order") = true, nb::arg("profiling") = false)
      .def_static(
          "default",
          [](nb::handle device) { return ndl::queue::default_queue(device_from(device)); },
          nb::arg("device") = nb::none(), "The canonical default queue of a device.")
      .def_prop_ro("device", &ndl::queue::get_device)
      .def_prop_ro("in_order", &ndl::queue::is_in_order)
      .def_prop_ro("profiling", &ndl::queue::has_profiling)
      .def("wait", &ndl::queue::wait, nb::call_guard<nb::gil_scoped_release>(),
           "Waits for every command submitted so far; raises the first error.")
      .def("__eq__",
           [](const ndl::queue& a, nb::handle b) {
             return nb::isinstance<ndl::queue>(b) && a == nb::cast<ndl::queue>(b);
           })
      .def("__hash__",
           [](const ndl::queue& q) { return reinterpret_cast<uintptr_t>(q.impl().get()); })
      .def("__repr__", [](const ndl::queue& q) { return "<ndlaunch.Queue " + q.describe() + ">"; });

  nb::class_<py_range>(m, "Range", "A range of work-items: Range(n), Range(rows, cols), ...")
      .def("__init__",
           [](py_range* self, nb::args dims) {
             nb::handle h = dims.size() == 1 ? dims[0] : nb::handle(dims);
             auto e = extents(h, "Range");
             ndl::detail::index_space s;
             s.dims = static_cast<int>(e.size());
             for (size_t d = 0; d < e.size(); ++d)
               s.global[d] = e[d];
             new (self) py_range{s};
           })
      .def_prop_ro("shape",
                   [](const py_range& s) { return as_tuple(s.space.global, s.space.dims); })
      .def_prop_ro("ndim", [](const py_range& s) { return s.space.dims; })
      .def_prop_ro("size", [](const py_range& s) { return s.space.work_items(); })
      .def("__repr__", [](const py_range& s) {
        return "Range" + nb::cast<std::string>(nb::repr(as_tuple(s.space.global, s.space.dims)));
      });

  nb::class_<py_nd_range>(m, "NdRange",
                          "A range of work-items in work-groups: NdRange(global, local), each an "
                          "int or a tuple; every local extent divides its global one.")
      .def(
          "__init__",
          [](py_nd_range* self, nb::handle global, nb::handle local) {
            auto g = extents(global, "NdRange global range");
            auto l = extents(local, "NdRange local range");
            if (g.size() != l.size())
              ndl::detail::throw_error(ndl::errc::invalid_range,
                                       "NdRange: the global range has " + std::to_string(g.size()) +
                                           " dimensions and the local range " +
                                           std::to_string(l.size()));
            ndl::detail::index_space s = g.size() == 1   ? nd_space<1>(g, l)
                                         : g.size() == 2 ? nd_space<2>(g, l)
                                                         : nd_space<3>(g, l);
            new (self) py_nd_range{s};
          },
          nb::arg("global_range"), nb::arg("local_range"))
      .def_prop_ro("global_range",
                   [](const py_nd_range& s) { return as_tuple(s.space.global, s.space.dims); })
      .def_prop_ro("local_range",
                   [](const py_nd_range& s) { return as_tuple(s.space.local, s.space.dims); })
      .def_prop_ro("ndim", [](const py_nd_range& s) { return s.space.dims; })
      .def("__repr__", [](const py_nd_range& s) {
        return "NdRange(" +
               nb::cast<std::string>(nb::repr(as_tuple(s.space.global, s.space.dims))) + ", " +
               nb::cast<std::string>(nb::repr(as_tuple(s.space.local, s.space.dims))) + ")";
      });

  nb::class_<py_local>(m, "LocalAccessor",
                       "Work-group local memory of an NdRange launch: LocalAccessor(shape, "
                       "dtype). It arrives in the kernel as ndl::local_accessor<T, ndim>.")
      .def(
          "__init__",
          [](py_local* self, nb::handle shape, nb::handle dtype) {
            auto e = extents(shape, "LocalAccessor");
            py_local l;
            l.dtype = dtype_from(dtype);
            l.ndim = static_cast<int>(e.size());
            for (size_t d = 0; d < e.size(); ++d) {
              if (e[d] == 0)
                ndl::detail::throw_error(ndl::errc::invalid_argument,
                                         "LocalAccessor: a local accessor needs at least one "
                                         "element (extent 0 in dimension " +
                                             std::to_string(d) + ")");
              l.shape[d] = static_cast<int64_t>(e[d]);
            }
            new (self) py_local(l);
          },
          nb::arg("shape"), nb::arg("dtype") = "float32")
      .def_prop_ro("shape",
                   [](const py_local& l) {
                     nb::list out;
                     for (int d = 0; d < l.ndim; ++d)
                       out.append(l.shape[d]);
                     return nb::tuple(out);
                   })
      .def_prop_ro("dtype", [](const py_local& l) { return dtype_object(l.dtype); });

  // The run-time compiler (ndlaunch/_kernel.py drives it).
  m.def(
      "_compile",
      [](const ndl::device& dev, const std::string& source,
         const std::vector<std::string>& options) {
        std::string image;
        {
          nb::gil_scoped_release release;
          image = ndl::detail::compile_rt_module(dev, source, options);
        }
        return nb::bytes(image.data(), image.size());
      },
      nb::arg("device"), nb::arg("source"), nb::arg("options"));
  m.def("_compiler_id", &ndl::detail::rt_compiler_id, nb::arg("device"));
  m.def(
      "_load",
      [](const ndl::device& dev, nb::bytes image, const std::string& name, bool is_nd, int dims,
         const std::vector<unsigned short>& codes) {
        ndl::detail::rt_signature sig;
        sig.name = name.c_str();
        sig.dims = dims;
        sig.is_nd = is_nd;
        sig.nargs = static_cast<int>(codes.size());
        sig.arg_codes = codes.data();
        const std::string img(static_cast<const char*>(image.data()), image.size());
        return reinterpret_cast<uintptr_t>(ndl::detail::load_rt_module(dev, img, sig));
      },
      nb::arg("device"), nb::arg("image"), nb::arg("name"), nb::arg("is_nd"), nb::arg("dims"),
      nb::arg("codes"));
  m.def("_drain", &ndl::detail::drain_in_flight, nb::call_guard<nb::gil_scoped_release>(),
        "Waits for every launch in flight (registered with atexit).");
  m.attr("_abi_version") = ndl::detail::rt_abi_version;
  m.attr("_checked") = NDL_CHECKED;
}

}  // namespace ndlaunch

NB_MODULE(_ndlaunch, m) {
  m.doc() = "ndlaunch's C++ runtime (use the ndlaunch package)";
  ndlaunch::bind_errors(m);
  ndlaunch::bind_runtime(m);
  ndlaunch::bind_array(m);
  ndlaunch::bind_launch(m);
}
