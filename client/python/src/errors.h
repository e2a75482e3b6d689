// Status -> Python exception: the one place where asyncps errors become
// exceptions.
//
//   asyncps.Error                     every failure (attribute .code: the
//                                     C++ code name, e.g. "timeout")
//     InvalidArgument (+ ValueError)  bad input: dtype, shape, option, layout
//     Mismatch                        layout/fingerprint/algorithm differs from the PS's
//     NotInitialised                  pull/commit before any worker's init
//     AlreadyInitialised              a later init (the first one won)
//     Timeout (+ TimeoutError)        a shard did not answer within the deadline
//     Unavailable (+ ConnectionError) transport failure
//     ProtocolError                   malformed or unexpected message
//     Unauthorised (+ PermissionError) refused by the shards' CURVE settings
//     IOError (+ OSError)             file system
//     Internal
// The exception's message is the Status message (it names the shard address,
// field or file), unchanged.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "asyncps/core/status.h"

namespace asyncps::python {

// Creates the exception classes and adds them to `m`. Call once, first.
void RegisterErrors(pybind11::module_& m);

// Raises the exception for `st` (as a pybind11::error_already_set).
// REQUIRES: !st.ok(); the GIL is held.
[[noreturn]] void Raise(const Status& st);

// Raise(st) unless st.ok(). REQUIRES: the GIL is held.
inline void ThrowIfError(const Status& st) {
  if (!st.ok()) Raise(st);
}

// Raise(Status::InvalidArgument(message)).
[[noreturn]] void RaiseInvalidArgument(const std::string& message);

}  // namespace asyncps::python
