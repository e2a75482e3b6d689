// The pieces of the asyncps._asyncps extension module (module.cpp puts them
// together). Each Bind* function adds its classes and functions to `m`.
#pragma once

#include <pybind11/pybind11.h>

#include "asyncps/core/layout.h"
#include "asyncps/core/update_rule.h"

namespace asyncps::python {

void BindLayout(pybind11::module_& m);
void BindClient(pybind11::module_& m);
void BindRuleDriver(pybind11::module_& m);

// An asyncps.Layout, or an ordered sequence of (name, shape) pairs, as a
// ParameterLayout. Raises asyncps.InvalidArgument naming the bad entry.
ParameterLayout LayoutFromPython(pybind11::handle obj);

// An algorithm name ("adag", ...) as an Algorithm; raises asyncps.InvalidArgument.
Algorithm AlgorithmFromPython(pybind11::handle obj);

}  // namespace asyncps::python
