// ClientOptions from Python keyword arguments, and back, built from the
// options table (asyncps/client/client_options.h): every row is a keyword of
// asyncps.Client, named as in the table (servers, worker_id and algorithm are
// also its first parameters). Values by the row's type:
//   durations (unit ms in the table)   seconds: int, float or datetime.timedelta
//   integers                           int
//   fractions                          int or float
//   booleans                           True or False
//   CURVE keys                         str (Z85; '': CURVE off)
//   encodings, algorithm               str ('f32', 'bf16'; 'adag', ...)
//   servers                            a list of str, or one comma-separated str
// An unknown keyword, a value of another type or out of the row's range raises
// asyncps.InvalidArgument naming the option (and, for an unknown one, the
// valid names).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "asyncps/client/client.h"

namespace asyncps::python {

// Sets the option called `name` from `value`. REQUIRES: the GIL is held.
void SetClientOption(const std::string& name, pybind11::handle value, ClientOptions& options);

// Applies `kwargs` (SetClientOption for each). REQUIRES: the GIL is held.
void ApplyClientOptions(const pybind11::dict& kwargs, ClientOptions& options);

// The options as a dict of the keywords (durations in seconds); secret keys
// are left out.
pybind11::dict ClientOptionsToDict(const ClientOptions& options);

// asyncps.Client's docstring lines for the options: each keyword with its
// default and help.
std::string ClientOptionsDoc();

// Every option by name: (its default, its unit), the CURVE keys included (for
// the type stub, client/python/stubgen.py); durations in seconds ("s").
pybind11::dict ClientOptionDefaults();

}  // namespace asyncps::python
