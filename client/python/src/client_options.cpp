#include "client_options.h"

#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "errors.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

using std::chrono::milliseconds;

constexpr const char* kKnown =
    "request_timeout, retry_deadline, retry_backoff_initial, retry_backoff_max, connect_deadline, "
    "heartbeat_interval, max_attempts, curve_server_key, curve_secret_key, pull_encoding, commit_encoding, "
    "commit_top_k, error_feedback, observer, shared_memory";

// Seconds (int/float) or a datetime.timedelta, rounded to milliseconds.
milliseconds ToDuration(const std::string& key, py::handle v) {
  double seconds = 0;
  py::module_ datetime = py::module_::import("datetime");
  if (py::isinstance(v, datetime.attr("timedelta"))) {
    seconds = v.attr("total_seconds")().cast<double>();
  } else if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v))) {
    RaiseInvalidArgument(key + " must be a number of seconds or a datetime.timedelta, not " +
                         std::string(py::str(py::type::handle_of(v).attr("__name__"))));
  } else {
    seconds = v.cast<double>();
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9)
    RaiseInvalidArgument(key + " must be a finite number of seconds >= 0, not " + std::to_string(seconds));
  return milliseconds(static_cast<long long>(std::llround(seconds * 1000.0)));
}

std::string ToString(const std::string& key, py::handle v) {
  if (!py::isinstance<py::str>(v)) RaiseInvalidArgument(key + " must be a str");
  return v.cast<std::string>();
}

Encoding ToEncoding(const std::string& key, py::handle v) {
  Result<Encoding> e = ParseEncoding(ToString(key, v));
  if (!e.ok()) RaiseInvalidArgument(key + ": " + e.status().message());
  return e.value();
}

bool ToBool(const std::string& key, py::handle v) {
  if (!py::isinstance<py::bool_>(v)) RaiseInvalidArgument(key + " must be True or False");
  return v.cast<bool>();
}

double Seconds(milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

void ApplyClientOptions(const py::dict& kwargs, ClientOptions& o) {
  for (auto [k, v] : kwargs) {
    const std::string key = py::str(k);
    if (key == "request_timeout")
      o.request_timeout = ToDuration(key, v);
    else if (key == "retry_deadline")
      o.retry_deadline = ToDuration(key, v);
    else if (key == "retry_backoff_initial")
      o.retry_backoff_initial = ToDuration(key, v);
    else if (key == "retry_backoff_max")
      o.retry_backoff_max = ToDuration(key, v);
    else if (key == "connect_deadline")
      o.connect_deadline = ToDuration(key, v);
    else if (key == "heartbeat_interval")
      o.heartbeat_interval = ToDuration(key, v);
    else if (key == "max_attempts") {
      if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
        RaiseInvalidArgument("max_attempts must be an int");
      o.max_attempts = v.cast<int>();
    } else if (key == "curve_server_key")
      o.curve_server_key = ToString(key, v);
    else if (key == "curve_secret_key")
      o.curve_secret_key = ToString(key, v);
    else if (key == "pull_encoding")
      o.compression.pull = ToEncoding(key, v);
    else if (key == "commit_encoding")
      o.compression.commit = ToEncoding(key, v);
    else if (key == "commit_top_k") {
      if (!(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) || py::isinstance<py::bool_>(v))
        RaiseInvalidArgument("commit_top_k must be a number in [0, 1)");
      o.compression.commit_top_k = v.cast<double>();
    } else if (key == "error_feedback") {
      o.compression.error_feedback = ToBool(key, v);
    } else if (key == "observer") {
      o.observer = ToBool(key, v);
    } else if (key == "shared_memory") {
      o.shared_memory = ToBool(key, v);
    } else {
      RaiseInvalidArgument("unknown client option '" + key + "'; the options are: " + kKnown);
    }
  }
  if (Status st = o.compression.Validate(); !st.ok()) Raise(st);
}

py::dict ClientOptionsToDict(const ClientOptions& o) {
  py::dict d;
  d["servers"] = o.servers;
  d["worker_id"] = o.worker_id;
  d["algorithm"] = AlgorithmName(o.algorithm);
  d["request_timeout"] = Seconds(o.request_timeout);
  d["retry_deadline"] = Seconds(o.retry_deadline);
  d["retry_backoff_initial"] = Seconds(o.retry_backoff_initial);
  d["retry_backoff_max"] = Seconds(o.retry_backoff_max);
  d["connect_deadline"] = Seconds(o.connect_deadline);
  d["heartbeat_interval"] = Seconds(o.heartbeat_interval);
  d["max_attempts"] = o.max_attempts;
  d["curve_server_key"] = o.curve_server_key;
  d["pull_encoding"] = EncodingName(o.compression.pull);
  d["commit_encoding"] = EncodingName(o.compression.commit);
  d["commit_top_k"] = o.compression.commit_top_k;
  d["error_feedback"] = o.compression.error_feedback;
  d["observer"] = o.observer;
  d["shared_memory"] = o.shared_memory;
  return d;
}

}  // namespace asyncps::python
