// asyncps._asyncps: the extension module under the `asyncps` package
// (client/python/asyncps/__init__.py re-exports it).
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "errors.h"

PYBIND11_MODULE(_asyncps, m) {
  m.doc() = "asyncps' C++ client: Layout, Client, RuleDriver and the asyncps.Error classes";
  m.attr("__version__") = ASYNCPS_VERSION;
  asyncps::python::RegisterErrors(m);
  asyncps::python::BindLayout(m);
  asyncps::python::BindClient(m);
  asyncps::python::BindRuleDriver(m);
}
