#include "lease_service.h"

#include <cerrno>
#include <cstdio>

#include <zmq.hpp>

#include "lease_protocol.h"

namespace asyncps::launcher {
namespace {

using worker::FormatLeaseMessage;
using worker::LeaseMessage;

// How long a worker told to wait sleeps before it asks again: an epoch's last
// range may come back (or the next epoch start) at any moment.
constexpr std::uint64_t kWaitMs = 50;

std::string Error(const Status& st) { return FormatLeaseMessage({"error", {}, st.message()}); }

}  // namespace

std::string HandleLeaseRequest(LeaseTable& table, const std::string& request, std::uint64_t renew_ms) {
  Result<LeaseMessage> parsed = worker::ParseLeaseMessage(
      request, {"hello rows pgid", "next worker", "renew worker", "complete worker lease", "leave worker"});
  if (!parsed.ok()) return Error(parsed.status());
  const LeaseMessage& m = parsed.value();
  if (m.verb == "error") return Error(Status::InvalidArgument("a worker sends requests, not errors"));
  if (m.verb == "hello") {
    if (m.fields.at("pgid") > static_cast<std::uint64_t>(INT32_MAX))
      return Error(Status::InvalidArgument("hello: pgid " + std::to_string(m.fields.at("pgid")) + " out of range"));
    Result<std::uint32_t> id = table.Join(m.fields.at("rows"), static_cast<std::int64_t>(m.fields.at("pgid")));
    if (!id.ok()) return Error(id.status());
    return FormatLeaseMessage({"welcome",
                               {{"worker", id.value()},
                                {"epochs", static_cast<std::uint64_t>(table.ledger().epochs)},
                                {"renew_ms", renew_ms}},
                               ""});
  }
  const std::uint64_t id64 = m.fields.at("worker");
  if (id64 > UINT32_MAX) return Error(Status::InvalidArgument("worker " + std::to_string(id64) + " out of range"));
  const auto id = static_cast<std::uint32_t>(id64);
  Status st;
  if (m.verb == "next") {
    Result<NextLease> next = table.Next(id);
    if (!next.ok()) return Error(next.status());
    if (next.value().kind == NextLease::Kind::kDone) return "done";
    if (next.value().kind == NextLease::Kind::kWait) return FormatLeaseMessage({"wait", {{"ms", kWaitMs}}, ""});
    const Lease& l = next.value().lease;
    return FormatLeaseMessage({"range",
                               {{"lease", l.id},
                                {"epoch", static_cast<std::uint64_t>(l.epoch)},
                                {"index", l.index},
                                {"ranges", table.ledger().ranges},
                                {"begin", l.begin},
                                {"end", l.end}},
                               ""});
  } else if (m.verb == "renew") {
    st = table.Renew(id);
  } else if (m.verb == "complete") {
    st = table.Complete(id, m.fields.at("lease"));
  } else {  // leave
    worker::WorkerReport report;
    try {
      report = worker::WorkerReportFromJson(nlohmann::json::parse(m.body));
    } catch (const std::exception& e) {
      return Error(Status::InvalidArgument("leave: the worker's report is not a worker report's JSON: " +
                                           std::string(e.what())));
    }
    if (report.worker_index != id)
      return Error(Status::InvalidArgument("leave: worker " + std::to_string(id) + " sent worker " +
                                           std::to_string(report.worker_index) + "'s report"));
    st = table.Leave(id, std::move(report));
  }
  return st.ok() ? "ok" : Error(st);
}

struct LeaseService::Socket {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::rep};
};

LeaseService::LeaseService(const LeaseTableOptions& options)
    : socket_(std::make_unique<Socket>()),
      // Renewals three times per lease timeout, at most every second.
      renew_ms_(std::max<std::uint64_t>(
          1, std::min<std::uint64_t>(1000, static_cast<std::uint64_t>(options.lease_seconds * 1000 / 3)))),
      table_(options, [] { return std::chrono::steady_clock::now(); }) {}

Result<std::unique_ptr<LeaseService>> LeaseService::Start(const LeaseTableOptions& options, const std::string& bind) {
  if (std::string why = CheckLeaseOptions(options); !why.empty()) return Status::InvalidArgument(why);
  const std::size_t colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Status::InvalidArgument("--lease-bind " + bind + ": expected HOST:PORT");
  const std::string port = bind.substr(colon + 1);
  std::unique_ptr<LeaseService> s(new LeaseService(options));
  s->socket_->socket.set(zmq::sockopt::linger, 0);
  s->socket_->socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(worker::kMaxLeaseMessage));
  try {
    s->socket_->socket.bind("tcp://" + bind.substr(0, colon) + ":" + (port == "0" ? "*" : port));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("--lease-bind " + bind + ": cannot bind: " + e.what());
  }
  s->endpoint_ = s->socket_->socket.get(zmq::sockopt::last_endpoint);
  s->thread_ = std::thread([raw = s.get()] { raw->Serve(); });
  return s;
}

LeaseService::~LeaseService() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void LeaseService::Serve() {
  while (!stop_) {
    try {
      ServeOne();
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal to the launcher (SIGINT, SIGTERM)
      std::fprintf(stderr, "asyncps-local: the lease service stopped: %s\n", e.what());
      return;
    }
  }
}

void LeaseService::ServeOne() {
  zmq::socket_t& socket = socket_->socket;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(100));
  if (!(item.revents & ZMQ_POLLIN)) return;
  zmq::message_t request;
  if (!socket.recv(request, zmq::recv_flags::dontwait)) return;
  const bool multipart = request.more();
  while (request.more() && socket.recv(request)) {
  }
  std::string reply;
  if (multipart) {
    reply = Error(Status::InvalidArgument("a lease request is one message part"));
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    reply = HandleLeaseRequest(table_, request.to_string(), renew_ms_);
  }
  socket.send(zmq::buffer(reply), zmq::send_flags::none);
}

}  // namespace asyncps::launcher
