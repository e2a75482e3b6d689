#include "client_options.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "bindings.h"
#include "errors.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

using std::chrono::milliseconds;

std::string TypeName(py::handle v) { return py::str(py::type::handle_of(v).attr("__name__")); }

// "in [0, 1)" or ">= 1 ms": what a value must be.
std::string MustBe(const ClientOptionInfo& row, bool in_seconds = false) {
  const std::string allowed = row.AllowedText(in_seconds);
  return (allowed.starts_with("[") ? "in " : "") + allowed;
}

std::string Shortest(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// Seconds (int/float) or a datetime.timedelta, rounded to milliseconds and
// checked against the row's range (given in seconds).
milliseconds ToDuration(const ClientOptionInfo& row, py::handle v) {
  const std::string key(row.name);
  double seconds = 0;
  py::module_ datetime = py::module_::import("datetime");
  if (py::isinstance(v, datetime.attr("timedelta"))) {
    seconds = v.attr("total_seconds")().cast<double>();
  } else if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v))) {
    RaiseInvalidArgument(key + " must be a number of seconds or a datetime.timedelta, not " + TypeName(v));
  } else {
    seconds = v.cast<double>();
  }
  const double ms = seconds * 1000.0;
  if (!std::isfinite(seconds) || !CheckClientOptionValue(row, std::round(ms)).ok())
    RaiseInvalidArgument(key + " must be a number of seconds " + MustBe(row, /*in_seconds=*/true) + ", not " +
                         Shortest(seconds));
  return milliseconds(static_cast<long long>(std::llround(ms)));
}

std::string ToString(const std::string& key, py::handle v) {
  if (!py::isinstance<py::str>(v)) RaiseInvalidArgument(key + " must be a str, not " + TypeName(v));
  return v.cast<std::string>();
}

// A list of endpoints, or one string of comma-separated endpoints.
std::vector<std::string> ToServers(py::handle obj) {
  std::vector<std::string> out;
  if (py::isinstance<py::str>(obj)) {
    const std::string s = obj.cast<std::string>();
    std::size_t begin = 0;
    while (begin <= s.size()) {
      const std::size_t end = std::min(s.find(',', begin), s.size());
      if (end > begin) out.push_back(s.substr(begin, end - begin));
      begin = end + 1;
    }
  } else if (py::isinstance<py::sequence>(obj)) {
    for (py::handle e : py::reinterpret_borrow<py::sequence>(obj)) {
      if (!py::isinstance<py::str>(e)) RaiseInvalidArgument("servers must be strings like 'tcp://127.0.0.1:5555'");
      out.push_back(e.cast<std::string>());
    }
  } else {
    RaiseInvalidArgument(
        "servers must be a list of endpoints (one per shard, in shard order) or a "
        "comma-separated str");
  }
  if (out.empty()) RaiseInvalidArgument("no servers given: pass one endpoint per shard, in shard order");
  return out;
}

template <class T>
T ToInteger(const ClientOptionInfo& row, py::handle v) {
  const std::string key(row.name);
  if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
    RaiseInvalidArgument(key + " must be an int, not " + TypeName(v));
  T out{};
  try {
    out = v.cast<T>();
  } catch (const py::cast_error&) {
    RaiseInvalidArgument(key + " must be an int " + MustBe(row) + ", not " + std::string(py::str(v)));
  }
  ThrowIfError(CheckClientOptionValue(row, static_cast<double>(out)));
  return out;
}

// The keywords' names, for the error on an unknown one.
std::string KeywordNames() {
  std::string out;
  for (const ClientOptionInfo& row : ClientOptionTable()) out += (out.empty() ? "" : ", ") + std::string(row.name);
  return out;
}

// Levenshtein distance, for "did you mean".
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> d(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = d[0];
    d[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return d[b.size()];
}

[[noreturn]] void RaiseUnknown(const std::string& key) {
  std::string message = "unknown client option '" + key + "'";
  const ClientOptionInfo* closest = nullptr;
  std::size_t best = 3;  // suggest only a name at most 2 edits away
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    const std::size_t d = Distance(key, row.name);
    if (d < best) {
      best = d;
      closest = &row;
    }
  }
  if (closest != nullptr) message += " (did you mean '" + std::string(closest->name) + "'?)";
  RaiseInvalidArgument(message + "; the options are: " + KeywordNames());
}

py::object ToPython(const ClientOptionInfo& row, const ClientOptions& options) {
  return VisitClientOption(row, options, []<class T>(const T& v) -> py::object {
    if constexpr (std::is_same_v<T, milliseconds>)
      return py::float_(static_cast<double>(v.count()) / 1000.0);
    else if constexpr (std::is_same_v<T, Algorithm>)
      return py::str(AlgorithmName(v));
    else if constexpr (std::is_same_v<T, Encoding>)
      return py::str(EncodingName(v));
    else
      return py::cast(v);
  });
}

}  // namespace

void SetClientOption(const std::string& key, py::handle v, ClientOptions& o) {
  const ClientOptionInfo* row = FindClientOption(key);
  if (row == nullptr) RaiseUnknown(key);
  VisitClientOption(*row, o, [&]<class T>(T& member) {
    if constexpr (std::is_same_v<T, milliseconds>) {
      member = ToDuration(*row, v);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!py::isinstance<py::bool_>(v)) RaiseInvalidArgument(key + " must be True or False, not " + TypeName(v));
      member = v.cast<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      member = ToInteger<T>(*row, v);
    } else if constexpr (std::is_same_v<T, double>) {
      if (!(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) || py::isinstance<py::bool_>(v))
        RaiseInvalidArgument(key + " must be a number " + MustBe(*row) + ", not " + TypeName(v));
      member = v.cast<double>();
      ThrowIfError(CheckClientOptionValue(*row, member));
    } else if constexpr (std::is_same_v<T, std::string>) {
      member = ToString(key, v);
    } else if constexpr (std::is_same_v<T, Encoding>) {
      Result<Encoding> e = ParseEncoding(ToString(key, v));
      if (!e.ok()) RaiseInvalidArgument(key + ": " + e.status().message());
      member = e.value();
    } else if constexpr (std::is_same_v<T, Algorithm>) {
      member = AlgorithmFromPython(v);
    } else {
      static_assert(std::is_same_v<T, std::vector<std::string>>);
      member = ToServers(v);
    }
  });
}

void ApplyClientOptions(const py::dict& kwargs, ClientOptions& o) {
  for (auto [k, v] : kwargs) SetClientOption(py::str(k), v, o);
}

py::dict ClientOptionsToDict(const ClientOptions& o) {
  py::dict d;
  for (const ClientOptionInfo& row : ClientOptionTable())
    if (!row.secret) d[py::str(row.name.data(), row.name.size())] = ToPython(row, o);
  return d;
}

py::dict ClientOptionDefaults() {
  const ClientOptions defaults;
  py::dict d;
  for (const ClientOptionInfo& row : ClientOptionTable())
    d[py::str(row.name.data(), row.name.size())] =
        py::make_tuple(ToPython(row, defaults), row.unit == "ms" ? "s" : std::string(row.unit));
  return d;
}

std::string ClientOptionsDoc() {
  const ClientOptions defaults;
  std::string doc;
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    std::string def = py::repr(ToPython(row, defaults));
    if (row.unit == "ms") def += " s";
    doc += "  " + std::string(row.name) + " (" + def + "): " + std::string(row.help) + "\n";
  }
  return doc;
}

}  // namespace asyncps::python
