#include "errors.h"

#include <array>

namespace py = pybind11;

namespace asyncps::python {
namespace {

struct ErrorClass {
  Status::Code code;
  const char* name;   // the Python class name in module asyncps
  PyObject* builtin;  // a second base besides asyncps.Error, or nullptr
  const char* doc;
};

constexpr std::size_t kNumCodes = static_cast<std::size_t>(Status::Code::kInternal) + 1;

// The classes, indexed by Status::Code; created once in RegisterErrors and
// never freed (they live as long as the interpreter).
PyObject* g_base = nullptr;
std::array<PyObject*, kNumCodes> g_classes{};

}  // namespace

void RegisterErrors(py::module_& m) {
  const ErrorClass classes[] = {
      {Status::Code::kInvalidArgument, "InvalidArgument", PyExc_ValueError,
       "Bad input: an array's dtype, shape or contiguity, an option, a layout."},
      {Status::Code::kMismatch, "Mismatch", nullptr,
       "The layout, shard order or algorithm differs from what the parameter server holds."},
      {Status::Code::kNotInitialised, "NotInitialised", nullptr,
       "A pull or commit before any worker sent the initial weights (call init first)."},
      {Status::Code::kAlreadyInitialised, "AlreadyInitialised", nullptr,
       "A later init: another worker's weights were taken first."},
      {Status::Code::kTimeout, "Timeout", PyExc_TimeoutError,
       "A shard did not answer within the deadline (the message names its address)."},
      {Status::Code::kUnavailable, "Unavailable", PyExc_ConnectionError, "A transport failure."},
      {Status::Code::kProtocol, "ProtocolError", nullptr, "A malformed or unexpected message."},
      {Status::Code::kUnauthorised, "Unauthorised", PyExc_PermissionError,
       "Refused by the shards' CURVE security settings."},
      {Status::Code::kIOError, "IOError", PyExc_OSError, "A file system error."},
      {Status::Code::kInternal, "Internal", nullptr, "An internal error (a bug: please report it)."},
  };
  g_base = PyErr_NewExceptionWithDoc("asyncps.Error",
                                     "Base class of every asyncps failure. str(e) is the C++ Status message; "
                                     "e.code is its code name (e.g. 'timeout').",
                                     nullptr, nullptr);
  if (!g_base) throw py::error_already_set();
  m.add_object("Error", py::handle(g_base));
  for (const ErrorClass& c : classes) {
    py::tuple bases =
        c.builtin ? py::make_tuple(py::handle(g_base), py::handle(c.builtin)) : py::make_tuple(py::handle(g_base));
    const std::string qualified = std::string("asyncps.") + c.name;
    PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), c.doc, bases.ptr(), nullptr);
    if (!cls) throw py::error_already_set();
    g_classes[static_cast<std::size_t>(c.code)] = cls;
    m.add_object(c.name, py::handle(cls));
  }
}

void Raise(const Status& st) {
  const auto i = static_cast<std::size_t>(st.code());
  PyObject* cls = i < kNumCodes && g_classes[i] ? g_classes[i] : g_base;
  py::object exc = py::reinterpret_steal<py::object>(PyObject_CallFunction(cls, "s", st.message().c_str()));
  if (!exc) throw py::error_already_set();
  exc.attr("code") = CodeName(st.code());
  PyErr_SetObject(cls, exc.ptr());
  throw py::error_already_set();
}

void RaiseInvalidArgument(const std::string& message) { Raise(Status::InvalidArgument(message)); }

}  // namespace asyncps::python
