// asyncps.RuleDriver: the worker side of an update rule around the caller's
// own training loop (asyncps/rule_driver.h), and the rule helpers.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "asyncps/transport/curve.h"
#include "asyncps/client/rule_driver.h"
#include "bindings.h"
#include "client_handle.h"
#include "errors.h"
#include "float_buffer.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

// Dist-Keras' defaults for `a`, with the fields given overridden; validated.
RuleConfig MakeRuleConfig(Algorithm a, std::optional<int> window, std::optional<float> rho, std::optional<float> eta,
                          std::optional<float> momentum, std::optional<int> workers, bool overlap = false) {
  RuleConfig c = RuleConfig::Defaults(a);
  if (window) c.window = *window;
  if (rho) c.rho = *rho;
  if (eta) c.eta = *eta;
  if (momentum) c.momentum = *momentum;
  if (workers) c.workers = *workers;
  c.overlap = overlap;
  if (Status st = c.Validate(); !st.ok()) Raise(st);
  return c;
}

const char* ExchangePointName(ExchangePoint p) {
  switch (p) {
    case ExchangePoint::kBeforeBatch:
      return "before_batch";
    case ExchangePoint::kAfterBatch:
      return "after_batch";
    case ExchangePoint::kNever:
      return "never";
  }
  return "never";
}

py::dict ConfigDict(const RuleConfig& c) {
  py::dict d;
  d["algorithm"] = AlgorithmName(c.algorithm);
  d["window"] = c.window;
  d["rho"] = c.rho;
  d["eta"] = c.eta;
  d["momentum"] = c.momentum;
  d["workers"] = c.workers;
  d["overlap"] = c.overlap;
  d["alpha"] = c.alpha();
  d["exchange_point"] = ExchangePointName(c.exchange_point());
  return d;
}

// The driver and the client it exchanges through. The driver keeps a
// reference to the C++ Client: the client's handle holds the driver too
// (ClientHandle::AddDriver) and destroys it when the client is closed; every
// call goes through ClientHandle::Call, which refuses a closed client before
// the driver is touched. An overlapped exchange runs on the driver's thread
// between calls on driver-owned buffers only (never a Python object), with
// the GIL released while a call waits for it.
class DriverHandle {
 public:
  DriverHandle(std::shared_ptr<ClientHandle> client, const RuleConfig& config)
      : client_(std::move(client)), config_(config) {
    if (config.algorithm != client_->options().algorithm)
      RaiseInvalidArgument(std::string("RuleDriver: algorithm '") + AlgorithmName(config.algorithm) +
                           "' differs from the client's '" + AlgorithmName(client_->options().algorithm) + "'");
    client_->AddDriver(driver_, config_);
  }
  ~DriverHandle() { client_->RemoveDriver(driver_); }
  DriverHandle(const DriverHandle&) = delete;
  DriverHandle& operator=(const DriverHandle&) = delete;

  // Runs one driver step on `weights` (checked, in place).
  template <typename Step>
  void Run(const char* what, py::handle weights, Step step) {
    FloatBuffer w = FloatBuffer::Writable(weights, "weights", client_->layout().total_size());
    client_->Call(
        what, [&](Client&) { return step(*driver_, w.span()); }, driver_.get());
  }

  void RecordLoss(double loss) {
    client_->Call(
        "record_loss",
        [&](Client&) {
          driver_->RecordLoss(loss);
          return Status::OK();
        },
        driver_.get());
  }

  // REQUIRES: the GIL is held. Raises once the client is closed.
  template <typename Get>
  auto Read(const char* what, Get get) {
    decltype(get(*driver_)) value{};
    client_->Call(
        what,
        [&](Client&) {
          value = get(*driver_);
          return Status::OK();
        },
        driver_.get());
    return value;
  }
  const RuleConfig& config() const { return config_; }

 private:
  std::shared_ptr<ClientHandle> client_;
  RuleConfig config_;
  std::unique_ptr<RuleDriver> driver_;
};

}  // namespace

void BindRuleDriver(py::module_& m) {
  py::class_<DriverHandle>(m, "RuleDriver", R"doc(
The worker side of the run's update rule, around your own training loop. The
model and its optimizer stay yours; the driver reads and writes the flat
weight vector between batches:

    driver = asyncps.RuleDriver(client)      # the client's algorithm, Dist-Keras' defaults
    driver.start(w)                          # w[:] = C (remembered as W0)
    for batch in data:
        driver.before_batch(w)               # DOWNPOUR / EASGD / EAMSGD exchange here
        train one batch on w (in place)
        driver.after_batch(w)                # ADAG / DynSGD exchange here
    driver.finish(w)                         # sends the batches trained since the last exchange

RuleDriver(client, window=None, rho=None, eta=None, momentum=None, workers=None,
overlap=False): None takes the rule's default (window 5, 12, 5, 32, 32, average 5;
rho 5; eta 0.1; momentum 0.9); workers, the models average averages, is required
for it.

overlap=True: each exchange travels in the background while the next window
trains, and its pull is used at the next exchange (docs/update-rules.md,
"Overlapped exchange"; not with average). The GIL is released while a call waits
for the exchange in flight. From the first exchange until finish() returns the
driver owns the client: its other calls raise asyncps.InvalidArgument meanwhile.
An exchange's error is raised by the next before_batch/after_batch/finish.
)doc")
      .def(py::init([](std::shared_ptr<ClientHandle> client, std::optional<int> window, std::optional<float> rho,
                       std::optional<float> eta, std::optional<float> momentum, std::optional<int> workers,
                       bool overlap) {
             // Average divides by the number of models it averages: never guess it.
             if (client->options().algorithm == Algorithm::kAverage && !workers)
               RaiseInvalidArgument("average needs workers=N, the number of workers whose models it averages");
             return std::make_unique<DriverHandle>(
                 client, MakeRuleConfig(client->options().algorithm, window, rho, eta, momentum, workers, overlap));
           }),
           py::arg("client"), py::arg("window") = py::none(), py::arg("rho") = py::none(), py::arg("eta") = py::none(),
           py::arg("momentum") = py::none(), py::arg("workers") = py::none(), py::arg("overlap") = false)
      .def(
          "start",
          [](DriverHandle& d, py::handle w) { d.Run("start", w, [](RuleDriver& r, auto s) { return r.Start(s); }); },
          py::arg("weights"), "Pulls C into weights and remembers it as W0.")
      .def(
          "before_batch",
          [](DriverHandle& d, py::handle w) {
            d.Run("before_batch", w, [](RuleDriver& r, auto s) { return r.BeforeBatch(s); });
          },
          py::arg("weights"))
      .def(
          "after_batch",
          [](DriverHandle& d, py::handle w) {
            d.Run("after_batch", w, [](RuleDriver& r, auto s) { return r.AfterBatch(s); });
          },
          py::arg("weights"))
      .def(
          "finish",
          [](DriverHandle& d, py::handle w) { d.Run("finish", w, [](RuleDriver& r, auto s) { return r.Finish(s); }); },
          py::arg("weights"),
          "If batches were trained since the last exchange, exchanges once more (overlap: after waiting for the "
          "exchange in flight). EAMSGD: a before_batch look-ahead that no after_batch followed is undone first.")
      .def(
          "record_loss", [](DriverHandle& d, double loss) { d.RecordLoss(loss); }, py::arg("loss"),
          "A trained batch's loss: the mean of those recorded since the previous exchange rides on the next "
          "commit, for the servers' status page (a value that is not finite is not recorded).")
      .def_property_readonly(
          "commits", [](DriverHandle& d) { return d.Read("commits", [](const RuleDriver& r) { return r.commits(); }); },
          "Exchanges with the PS so far (each one commit; overlap: those every shard acknowledged).")
      .def_property_readonly(
          "batches", [](DriverHandle& d) { return d.Read("batches", [](const RuleDriver& r) { return r.batches(); }); },
          "Batches trained so far (after_batch calls).")
      .def_property_readonly("config", [](const DriverHandle& d) { return ConfigDict(d.config()); });

  m.def(
      "rule_config",
      [](py::handle algorithm, std::optional<int> window, std::optional<float> rho, std::optional<float> eta,
         std::optional<float> momentum, std::optional<int> workers, bool overlap) {
        return ConfigDict(MakeRuleConfig(AlgorithmFromPython(algorithm), window, rho, eta, momentum, workers, overlap));
      },
      py::arg("algorithm"), py::arg("window") = py::none(), py::arg("rho") = py::none(), py::arg("eta") = py::none(),
      py::arg("momentum") = py::none(), py::arg("workers") = py::none(), py::arg("overlap") = false,
      "The rule's settings (Dist-Keras' defaults, overridden by the arguments given), as a dict with "
      "algorithm, window, rho, eta, momentum, workers, overlap, alpha and exchange_point.");
  m.def(
      "expected_commits",
      [](py::handle algorithm, std::uint64_t batches, std::optional<int> window) {
        return ExpectedCommits(MakeRuleConfig(AlgorithmFromPython(algorithm), window, {}, {}, {}, {}), batches);
      },
      py::arg("algorithm"), py::arg("batches"), py::arg("window") = py::none(),
      "Commits a worker sends when it trains `batches` batches, its final commit included: "
      "ceil(batches / window) for ADAG and DynSGD, one per window that follows trained work plus the final "
      "one for DOWNPOUR, EASGD and EAMSGD.");

  m.def("curve_available", &CurveAvailable, "True when this libzmq supports CURVE.");
  m.def(
      "generate_curve_key_pair",
      []() {
        Result<CurveKeyPair> k = GenerateCurveKeyPair();
        ThrowIfError(k.status());
        return py::make_tuple(k.value().public_key, k.value().secret_key);
      },
      "A new CURVE key pair (public, secret), Z85 text.");
  m.def(
      "curve_public_key",
      [](const std::string& secret) {
        Result<std::string> k = CurvePublicKey(secret);
        ThrowIfError(k.status());
        return k.value();
      },
      py::arg("secret_key"));
  m.def(
      "read_curve_key_file",
      [](const std::string& path) {
        Result<std::string> k = ReadCurveKeyFile(path);
        ThrowIfError(k.status());
        return k.value();
      },
      py::arg("path"), "The key in a key file written by asyncps-keygen (first non-comment line).");
}

}  // namespace asyncps::python
