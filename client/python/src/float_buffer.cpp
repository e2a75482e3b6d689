#include "float_buffer.h"

#include <memory>
#include <string>

#include "errors.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

// numpy's "<f"/"=f" and plain "f" are the native little-endian float32 this
// library reads; ">f" (byte-swapped) and every other format are refused.
bool IsNativeFloat32(const py::buffer_info& info) {
  if (info.itemsize != 4) return false;
  const std::string& f = info.format;
  return f == "f" || f == "<f" || f == "=f" || f == "@f";
}

std::string TypeName(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

std::string ShapeString(const py::buffer_info& info) {
  std::string s = "(";
  for (std::size_t i = 0; i < info.shape.size(); ++i) {
    s += std::to_string(info.shape[i]);
    if (info.shape.size() == 1 || i + 1 < info.shape.size()) s += ",";
    if (i + 1 < info.shape.size()) s += " ";
  }
  return s + ")";
}

}  // namespace

FloatBuffer FloatBuffer::Writable(py::handle obj, const char* what, std::size_t expected_size) {
  return Request(obj, what, expected_size, /*writable=*/true);
}

FloatBuffer FloatBuffer::ReadOnly(py::handle obj, const char* what, std::size_t expected_size) {
  return Request(obj, what, expected_size, /*writable=*/false);
}

FloatBuffer FloatBuffer::Request(py::handle obj, const char* what, std::size_t expected_size, bool writable) {
  const std::string name(what);
  if (!PyObject_CheckBuffer(obj.ptr())) {
    RaiseInvalidArgument(name + " must be a float32 array (numpy.ndarray, torch.Tensor.numpy(), anything with " +
                         "the buffer protocol), not " + TypeName(obj));
  }
  // Ask for strides and format: a non-contiguous array is exported with its
  // strides and refused below with a message, rather than failing obscurely.
  // buffer_info takes ownership of a heap-allocated view (it releases and deletes it).
  auto view = std::make_unique<Py_buffer>();
  const int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj.ptr(), view.get(), flags) != 0) {
    PyErr_Clear();
    if (writable && PyObject_GetBuffer(obj.ptr(), view.get(), PyBUF_STRIDES | PyBUF_FORMAT) == 0) {
      PyBuffer_Release(view.get());
      RaiseInvalidArgument(name + " is read-only, but this call writes the parameter server's weights into it: " +
                           "pass a writable array (e.g. numpy.array(x) or x.copy())");
    }
    PyErr_Clear();
    RaiseInvalidArgument(name + ": cannot read the buffer of this " + TypeName(obj));
  }
  py::buffer_info info(view.release(), /*ownview=*/true);
  if (!IsNativeFloat32(info)) {
    RaiseInvalidArgument(name + " must hold float32 (numpy.float32, torch.float32), not buffer format '" + info.format +
                         "' of " + std::to_string(info.itemsize) +
                         "-byte items: convert it once with .astype(numpy.float32) and keep using that array");
  }
  if (info.ndim != 1) {
    RaiseInvalidArgument(name + " must be one-dimensional (the flat parameter vector of " +
                         std::to_string(expected_size) + " float32), not of shape " + ShapeString(info) +
                         ": pass x.reshape(-1) of a contiguous array");
  }
  if (info.shape[0] > 1 && info.strides[0] != static_cast<py::ssize_t>(sizeof(float))) {
    RaiseInvalidArgument(name + " must be contiguous, but its elements are " + std::to_string(info.strides[0]) +
                         " bytes apart (a strided view?): pass numpy.ascontiguousarray(x), and keep that array " +
                         "(the client reads and writes the memory you pass, without copying)");
  }
  const auto size = static_cast<std::size_t>(info.shape[0]);
  if (size != expected_size) {
    RaiseInvalidArgument(name + " has " + std::to_string(size) + " float32 elements but the layout has " +
                         std::to_string(expected_size));
  }
  float* data = static_cast<float*>(info.ptr);
  return FloatBuffer(std::move(info), data, size);
}

}  // namespace asyncps::python
