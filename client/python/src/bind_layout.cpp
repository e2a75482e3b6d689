// asyncps.Layout: the ordered (name, shape) tensors of a model, flattened into
// one float32 vector and split into shard ranges (asyncps/layout.h).
#include <pybind11/stl.h>

#include <set>
#include <string>

#include "bindings.h"
#include "errors.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

py::tuple ShapeTuple(const std::vector<std::size_t>& shape) {
  py::tuple t(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) t[i] = shape[i];
  return t;
}

std::vector<std::size_t> ShapeFrom(const std::string& where, py::handle shape) {
  py::object dims = py::reinterpret_borrow<py::object>(shape);
  if (py::isinstance<py::int_>(shape) && !py::isinstance<py::bool_>(shape))
    dims = py::make_tuple(shape);  // 10 as (10,)
  if (!py::isinstance<py::sequence>(dims) || py::isinstance<py::str>(dims))
    RaiseInvalidArgument(where + ": the shape must be a sequence of ints, e.g. (3, 3, 1, 32)");
  std::vector<std::size_t> out;
  for (py::handle d : py::reinterpret_borrow<py::sequence>(dims)) {
    // numpy integers and torch.Size entries are accepted through __index__.
    if (py::isinstance<py::bool_>(d) || !PyIndex_Check(d.ptr()))
      RaiseInvalidArgument(where + ": shape entries must be ints, not " + std::string(py::repr(d)) + " (" +
                           std::string(py::str(py::type::handle_of(d).attr("__name__"))) + ")");
    const py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(d.ptr()));
    if (!i) throw py::error_already_set();
    int overflow = 0;  // -1 / +1: below / above what a long long holds
    const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow > 0)
      RaiseInvalidArgument(where + ": shape entry " + std::string(py::str(i)) + " is larger than a tensor may be (" +
                           std::to_string(kMaxLayoutElements) + " elements, 2^31 - 1)");
    if (overflow < 0 || v < 0)
      RaiseInvalidArgument(where + ": shape entries must be >= 0, not " + std::string(py::str(i)));
    out.push_back(static_cast<std::size_t>(v));
  }
  return out;
}

}  // namespace

ParameterLayout LayoutFromPython(py::handle obj) {
  if (py::isinstance<ParameterLayout>(obj)) return obj.cast<ParameterLayout>();
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
    RaiseInvalidArgument("layout must be an asyncps.Layout or a list of (name, shape) pairs, not " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  ParameterLayout layout;
  std::set<std::string> names;
  std::size_t i = 0;
  for (py::handle entry : py::reinterpret_borrow<py::sequence>(obj)) {
    const std::string where = "layout entry " + std::to_string(i++);
    if (!py::isinstance<py::sequence>(entry) || py::isinstance<py::str>(entry) || py::len(entry) != 2)
      RaiseInvalidArgument(where + " must be a (name, shape) pair");
    py::sequence pair = py::reinterpret_borrow<py::sequence>(entry);
    if (!py::isinstance<py::str>(pair[0])) RaiseInvalidArgument(where + ": the name must be a str");
    std::string name = pair[0].cast<std::string>();
    if (name.empty()) RaiseInvalidArgument(where + ": the name is empty");
    if (!names.insert(name).second) RaiseInvalidArgument(where + ": tensor name '" + name + "' appears twice");
    std::vector<std::size_t> shape = ShapeFrom(where + " ('" + name + "')", pair[1]);
    // Sizes past the layout's maximum (kMaxLayoutElements) are refused, naming the tensor and its shape.
    if (Result<std::size_t> at = layout.TryAdd(std::move(name), std::move(shape)); !at.ok())
      RaiseInvalidArgument(where + ": " + at.status().message());
  }
  return layout;
}

void BindLayout(py::module_& m) {
  py::class_<ParameterLayout>(m, "Layout", R"doc(
A model's parameters: an ordered list of named float32 tensors, flattened into
one vector in that order and split into contiguous, balanced shard ranges.
Every worker of a run (C++ or Python) must use the same layout.

Layout([("dense/kernel", (784, 10)), ("dense/bias", (10,))])
)doc")
      .def(py::init([](py::handle tensors) { return LayoutFromPython(tensors); }), py::arg("tensors"))
      .def_property_readonly(
          "tensors",
          [](const ParameterLayout& l) {
            py::list out;
            for (const TensorSpec& t : l.tensors()) out.append(py::make_tuple(t.name, ShapeTuple(t.shape)));
            return out;
          },
          "The (name, shape) pairs, in order.")
      .def_property_readonly("names",
                             [](const ParameterLayout& l) {
                               py::list out;
                               for (const TensorSpec& t : l.tensors()) out.append(t.name);
                               return out;
                             })
      .def_property_readonly("total_size", &ParameterLayout::total_size, "Number of float32 elements in all.")
      .def(
          "offset",
          [](const ParameterLayout& l, std::size_t i) {
            if (i >= l.num_tensors())
              RaiseInvalidArgument("tensor index " + std::to_string(i) + " out of range: the layout has " +
                                   std::to_string(l.num_tensors()) + " tensors");
            return l.offset(i);
          },
          py::arg("i"), "Offset of tensor i in the flat vector.")
      .def(
          "partition",
          [](const ParameterLayout& l, std::size_t num_shards) {
            if (num_shards < 1) RaiseInvalidArgument("num_shards must be >= 1");
            py::list out;
            for (const ShardRange& r : l.Partition(num_shards)) out.append(py::make_tuple(r.begin, r.end));
            return out;
          },
          py::arg("num_shards"), "The shards' half-open [begin, end) ranges of the flat vector.")
      .def("fingerprint", &ParameterLayout::Fingerprint, py::arg("num_shards"),
           "64-bit FNV-1a over names, shapes and the shard count (what the shards compare).")
      .def(
          "compare",
          [](const ParameterLayout& l, py::handle expected) { ThrowIfError(l.Compare(LayoutFromPython(expected))); },
          py::arg("expected"), "Raises asyncps.Mismatch naming the first difference; None when identical.")
      .def("describe", &ParameterLayout::Describe, "One line per tensor: 'name [d0,d1,...] size'.")
      .def("__len__", &ParameterLayout::num_tensors)
      .def(
          "__eq__", [](const ParameterLayout& a, const ParameterLayout& b) { return a == b; }, py::is_operator())
      .def("__repr__", [](const ParameterLayout& l) {
        return "asyncps.Layout(" + std::to_string(l.num_tensors()) + " tensors, " + std::to_string(l.total_size()) +
               " floats)";
      });
}

}  // namespace asyncps::python
