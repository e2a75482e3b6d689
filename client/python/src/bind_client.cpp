// asyncps.Client: a worker's connection to every shard (asyncps/client.h).
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.h"
#include "client_handle.h"
#include "client_options.h"
#include "errors.h"
#include "float_buffer.h"
#include "asyncps/core/counter_table.h"

namespace py = pybind11;

namespace asyncps::python {
namespace {

py::dict StatsDict(const ShardStats& s) {
  py::dict d;
  d["endpoint"] = s.endpoint;
  d["shard_index"] = s.shard_index;
  d["num_shards"] = s.num_shards;
  d["algorithm"] = AlgorithmName(s.algorithm);
  d["initialised"] = s.initialised;
  d["range"] = py::make_tuple(s.range.begin, s.range.end);
  for (const ShardCounterInfo& c : kShardCounters) d[py::str(c.name.data(), c.name.size())] = s.*c.field;
  d["errors_by_class"] = s.errors_by_class;
  py::dict per_worker;
  for (const auto& [worker, commits] : s.commits_per_worker) per_worker[py::int_(worker)] = commits;
  d["commits_per_worker"] = per_worker;
  d["blocked_seconds_per_worker"] = s.blocked_seconds_per_worker;
  d["max_staleness"] = s.max_staleness < 0 ? py::object(py::none()) : py::object(py::int_(s.max_staleness));
  d["inverse_staleness_scale"] = s.inverse_staleness_scale;
  d["staleness_counts"] = s.staleness_counts;
  return d;
}

// stats()' docstring, its counters from the table.
const std::string& StatsDoc() {
  static const std::string doc = [] {
    std::string d =
        "Every shard's counters, in shard order: a list of dicts with endpoint, shard_index, num_shards, "
        "algorithm, initialised, range; the counters";
    for (const ShardCounterInfo& c : kShardCounters) d += " " + std::string(c.name) + ",";
    d += " errors_by_class ({error name: count}), commits_per_worker ({worker_id: commits}), the staleness "
         "bound's max_staleness (None: off), blocked_seconds_per_worker ({worker_id: seconds}), "
         "inverse_staleness_scale and staleness_counts (applied commits per tau bucket).";
    return d;
  }();
  return doc;
}

// asyncps.Client's docstring, its options from the table.
std::string ClientDoc() {
  return R"doc(
A worker's connection to every shard of an asyncps parameter server.

Client(servers, layout, worker_id=0, algorithm="adag", **options)

servers: one endpoint per shard, in shard order (a list, or a comma-separated
str). layout: an asyncps.Layout or the ordered (name, shape) pairs. options: the
C++ ClientOptions by name (docs/cpp-client.md has the table), durations in
seconds (int, float or datetime.timedelta); each with its default:
)doc" + ClientOptionsDoc() +
         R"doc(
CURVE is on when curve_server_key is set; shared_memory=True needs
asyncps-server --shared-memory on this host (see shared_memory_shards).

Connecting says hello to every shard (checks protocol version, shard order,
layout and algorithm) and raises asyncps.Timeout naming the shard that did not
answer within connect_deadline. Arrays are flat, contiguous float32 buffers
of layout.total_size elements (numpy arrays, torch.Tensor.numpy() views),
read and written in place, never copied. The GIL is released while waiting for
the network; one call runs at a time per client (others wait). Ctrl-C during a
wait on the main thread raises KeyboardInterrupt within about interrupt_interval;
the request is abandoned and the client stays usable. A client belongs to the
process that created it: in a forked child every call raises
asyncps.InvalidArgument (create a client in the child), and closing or dropping
it leaves the parent's connections alone.
)doc";
}

}  // namespace

Algorithm AlgorithmFromPython(py::handle obj) {
  if (!py::isinstance<py::str>(obj))
    RaiseInvalidArgument("algorithm must be a str: downpour, adag, dynsgd, easgd, eamsgd or average");
  Result<Algorithm> a = ParseAlgorithm(obj.cast<std::string>());
  if (!a.ok()) RaiseInvalidArgument("algorithm: " + a.status().message());
  return a.value();
}

void BindClient(py::module_& m) {
  m.def("_client_option_defaults", &ClientOptionDefaults,
        "Every Client option by name: (default, unit), durations in seconds: what the type stub lists.");
  static const std::string client_doc = ClientDoc();
  py::class_<ClientHandle, std::shared_ptr<ClientHandle>>(m, "Client", client_doc.c_str())
      .def(py::init([](py::handle servers, py::handle layout, py::handle worker_id, py::handle algorithm,
                       py::kwargs kwargs) {
             ClientOptions options;
             SetClientOption("servers", servers, options);
             SetClientOption("worker_id", worker_id, options);
             SetClientOption("algorithm", algorithm, options);
             ApplyClientOptions(kwargs, options);
             options.interrupt = PythonSignalRaised;  // Ctrl-C ends a wait within interrupt_interval
             const ParameterLayout l = LayoutFromPython(layout);
             Result<std::unique_ptr<Client>> client = Status::Internal("not connected");
             {
               py::gil_scoped_release nogil;
               const PythonRequest request;  // Ctrl-C ends the hellos' wait
               client = Client::Connect(l, std::move(options));
             }
             ThrowIfErrorOrSignal(client.status());
             return std::make_shared<ClientHandle>(std::move(client).value());
           }),
           py::arg("servers"), py::arg("layout"), py::arg("worker_id") = 0, py::arg("algorithm") = "adag")
      .def_property_readonly("layout", &ClientHandle::layout)
      .def_property_readonly("num_shards", [](const ClientHandle& h) { return h.options().servers.size(); })
      .def_property_readonly(
          "shared_memory_shards",
          [](ClientHandle& h) {
            std::size_t n = 0;
            h.Call("shared_memory_shards", [&](Client& c) {
              n = c.shared_memory_shards();
              return Status::OK();
            });
            return n;
          },
          "Shards whose payloads travel through shared memory (the option shared_memory).")
      .def_property_readonly(
          "options", [](const ClientHandle& h) { return ClientOptionsToDict(h.options()); },
          "The options in effect, as a dict (secret keys left out).")
      .def(
          "init",
          [](ClientHandle& h, py::handle weights) {
            FloatBuffer w = FloatBuffer::ReadOnly(weights, "weights", h.layout().total_size());
            bool taken = false;
            h.Call("init", [&](Client& c) {
              Result<bool> r = c.Init(w.const_span());
              if (r.ok()) taken = r.value();
              return r.status();
            });
            return taken;
          },
          py::arg("weights"),
          "Offers initial weights. True when they were taken; False when every shard already had weights "
          "(another worker won: pull them).")
      .def(
          "pull",
          [](ClientHandle& h, py::handle weights) {
            FloatBuffer w = FloatBuffer::Writable(weights, "weights", h.layout().total_size());
            h.Call("pull", [&](Client& c) { return c.Pull(w.span()); });
          },
          py::arg("weights"), "weights[:] = C, in place. Raises asyncps.NotInitialised before any init.")
      .def(
          "commit",
          [](ClientHandle& h, py::handle payload) {
            FloatBuffer p = FloatBuffer::ReadOnly(payload, "payload", h.layout().total_size());
            h.Call("commit", [&](Client& c) { return c.Commit(p.const_span()); });
          },
          py::arg("payload"), "C <- C + scale * payload on every shard (scale per the run's rule).")
      .def(
          "commit_and_pull",
          [](ClientHandle& h, py::handle payload, py::handle weights) {
            FloatBuffer p = FloatBuffer::ReadOnly(payload, "payload", h.layout().total_size());
            FloatBuffer w = FloatBuffer::Writable(weights, "weights", h.layout().total_size());
            h.Call("commit_and_pull", [&](Client& c) { return c.CommitAndPull(p.const_span(), w.span()); });
          },
          py::arg("payload"), py::arg("weights"), "commit(payload), then weights[:] = C, in one round trip.")
      .def(
          "stats",
          [](ClientHandle& h) {
            std::vector<ShardStats> shards;
            h.Call("stats", [&](Client& c) {
              Result<std::vector<ShardStats>> r = c.Stats();
              if (r.ok()) shards = std::move(r).value();
              return r.status();
            });
            py::list out;
            for (const ShardStats& s : shards) out.append(StatsDict(s));
            return out;
          },
          StatsDoc().c_str())
      .def(
          "leave",
          [](ClientHandle& h, bool finished) { h.Call("leave", [&](Client& c) { return c.Leave(finished); }); },
          py::arg("finished") = true,
          "Tells every shard this worker commits no more (after its final commit): their staleness bound stops "
          "waiting for it. finished=False: it leaves before the end of its training (the status page says "
          "'left', not 'finished').")
      .def(
          "report_training_loss",
          [](ClientHandle& h, float loss) {
            h.Call("report_training_loss", [&](Client& c) { return c.ReportTrainingLoss(loss); });
          },
          py::arg("loss"),
          "For the servers' status page: the mean training loss over the batches since the previous commit; "
          "it rides on the next commit.")
      .def(
          "report_test_accuracy",
          [](ClientHandle& h, float accuracy, std::uint64_t updates) {
            h.Call("report_test_accuracy", [&](Client& c) { return c.ReportTestAccuracy(accuracy, updates); });
          },
          py::arg("accuracy"), py::arg("updates"),
          "For the servers' status page, sent now: the accuracy (in [0, 1]) on a held-out set of the centre as it "
          "was at update count `updates` (e.g. last_pulled_updates(0) after a pull).")
      .def(
          "last_pulled_updates",
          [](ClientHandle& h, std::size_t shard) {
            if (shard >= h.options().servers.size())
              RaiseInvalidArgument("shard " + std::to_string(shard) + " out of range: the client has " +
                                   std::to_string(h.options().servers.size()) + " shards");
            std::uint64_t n = 0;
            h.Call("last_pulled_updates", [&](Client& c) {
              n = c.last_pulled_updates(shard);
              return Status::OK();
            });
            return n;
          },
          py::arg("shard"), "The shard's update count at this client's last pull.")
      .def("close", &ClientHandle::Close, "Closes the connections; later calls raise. Idempotent.")
      .def("__enter__", [](std::shared_ptr<ClientHandle> h) { return h; })
      .def("__exit__", [](ClientHandle& h, py::args) { h.Close(); })
      .def("__repr__", [](const ClientHandle& h) {
        return "asyncps.Client(" + std::to_string(h.options().servers.size()) + " shards, worker " +
               std::to_string(h.options().worker_id) + ", " + AlgorithmName(h.options().algorithm) + ")";
      });
}

}  // namespace asyncps::python
