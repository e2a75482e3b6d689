// ClientOptions from Python keyword arguments, and back.
//
// The keywords are ClientOptions' field names; durations are seconds (int or
// float) or datetime.timedelta; the compression fields are flattened:
//   request_timeout, retry_deadline, retry_backoff_initial, retry_backoff_max,
//   connect_deadline, heartbeat_interval   seconds
//   max_attempts                            int (0: only the deadlines bound a request)
//   curve_server_key, curve_secret_key      Z85 strings ('' : CURVE off)
//   pull_encoding, commit_encoding          'f32' or 'bf16'
//   commit_top_k                            float in [0, 1)
//   error_feedback                          bool
// An unknown keyword or a bad value raises asyncps.InvalidArgument naming it.
#pragma once

#include <pybind11/pybind11.h>

#include "asyncps/client/client.h"

namespace asyncps::python {

// Applies `kwargs` to `options`. REQUIRES: the GIL is held.
void ApplyClientOptions(const pybind11::dict& kwargs, ClientOptions& options);

// The options as a dict of the keywords above (plus servers, worker_id,
// algorithm); secret keys are left out.
pybind11::dict ClientOptionsToDict(const ClientOptions& options);

}  // namespace asyncps::python
