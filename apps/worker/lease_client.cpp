#include "lease_client.h"

#include <unistd.h>

#include <cerrno>

#include <zmq.hpp>

namespace asyncps::worker {

struct LeaseClient::Socket {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::req};
};

LeaseClient::LeaseClient(const std::string& endpoint, std::chrono::milliseconds timeout)
    : socket_(std::make_unique<Socket>()), endpoint_(endpoint), timeout_(timeout) {}

LeaseClient::~LeaseClient() = default;

Result<std::unique_ptr<LeaseClient>> LeaseClient::Join(const std::string& endpoint, std::uint64_t rows,
                                                       std::chrono::milliseconds timeout) {
  if (endpoint.rfind("tcp://", 0) != 0)
    return Status::InvalidArgument("--join " + endpoint + ": expected tcp://HOST:PORT (asyncps-local prints it)");
  std::unique_ptr<LeaseClient> c(new LeaseClient(endpoint, timeout));
  zmq::socket_t& s = c->socket_->socket;
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxLeaseMessage));
  try {
    s.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("--join " + endpoint + ": " + e.what());
  }
  Result<LeaseMessage> welcome =
      c->Ask(FormatLeaseMessage({"hello", {{"rows", rows}, {"pgid", static_cast<std::uint64_t>(getpgrp())}}, ""}),
             {"welcome worker epochs renew_ms"});
  if (!welcome.ok()) return welcome.status();
  const auto& f = welcome.value().fields;
  if (f.at("worker") > UINT32_MAX || f.at("epochs") < 1 || f.at("epochs") > 1000000 || f.at("renew_ms") < 1 ||
      f.at("renew_ms") > 3600000)
    return Status::Protocol("the lease service at " + endpoint +
                            " sent an implausible welcome: " + FormatLeaseMessage(welcome.value()));
  c->worker_ = static_cast<std::uint32_t>(f.at("worker"));
  c->epochs_ = static_cast<int>(f.at("epochs"));
  c->renew_ = std::chrono::milliseconds(f.at("renew_ms"));
  return c;
}

Result<LeaseMessage> LeaseClient::Ask(const std::string& request, const std::vector<std::string>& expected) {
  zmq::socket_t& s = socket_->socket;
  last_request_ = std::chrono::steady_clock::now();
  zmq::message_t reply;
  // A signal (SIGTERM: stop after this batch) interrupts the call: go on.
  for (bool sent = false;;) {
    try {
      if (!sent) s.send(zmq::buffer(request), zmq::send_flags::none);
      sent = true;
      if (!s.recv(reply))
        return Status::Unavailable("the lease service at " + endpoint_ + " did not answer within " +
                                   std::to_string(timeout_.count()) + " ms (is asyncps-local still running?)");
      break;
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Unavailable("the lease service at " + endpoint_ + ": " + e.what());
    }
  }
  Result<LeaseMessage> parsed = ParseLeaseMessage(reply.to_string(), expected);
  if (!parsed.ok())
    return Status::Protocol("the lease service at " + endpoint_ + " answered: " + parsed.status().message());
  if (parsed.value().verb == "error")
    return Status::Unavailable("the lease service at " + endpoint_ + " refused '" +
                               request.substr(0, request.find('\n')) + "': " + parsed.value().body);
  return parsed;
}

namespace {
LeaseMessage WorkerRequest(const std::string& verb, std::uint32_t worker) { return {verb, {{"worker", worker}}, ""}; }
}  // namespace

Result<LeasedRange> LeaseClient::Next() {
  Result<LeaseMessage> m = Ask(FormatLeaseMessage(WorkerRequest("next", worker_)),
                               {"range lease epoch index ranges begin end", "wait ms", "done"});
  if (!m.ok()) return m.status();
  LeasedRange r;
  const auto& f = m.value().fields;
  if (m.value().verb == "done") {
    r.kind = LeasedRange::Kind::kDone;
  } else if (m.value().verb == "wait") {
    r.kind = LeasedRange::Kind::kWait;
    if (f.at("ms") > 60000)
      return Status::Protocol("the lease service at " + endpoint_ + " asked to wait " + std::to_string(f.at("ms")) +
                              " ms: more than a minute");
    r.wait = std::chrono::milliseconds(f.at("ms"));
  } else {
    r.kind = LeasedRange::Kind::kRange;
    r.lease = f.at("lease");
    r.index = f.at("index");
    r.ranges = f.at("ranges");
    r.begin = f.at("begin");
    r.end = f.at("end");
    if (f.at("epoch") < 1 || f.at("epoch") > static_cast<std::uint64_t>(epochs_) || r.index >= r.ranges ||
        r.begin >= r.end)
      return Status::Protocol("the lease service at " + endpoint_ +
                              " sent an implausible range: " + FormatLeaseMessage(m.value()));
    r.epoch = static_cast<int>(f.at("epoch"));
  }
  return r;
}

Status LeaseClient::RenewIfDue() {
  if (std::chrono::steady_clock::now() - last_request_ < renew_) return Status::OK();
  return Ask(FormatLeaseMessage(WorkerRequest("renew", worker_)), {"ok"}).status();
}

Status LeaseClient::Complete(std::uint64_t lease) {
  LeaseMessage m = WorkerRequest("complete", worker_);
  m.fields["lease"] = lease;
  return Ask(FormatLeaseMessage(m), {"ok"}).status();
}

Status LeaseClient::Leave(const WorkerReport& report) {
  LeaseMessage m = WorkerRequest("leave", worker_);
  m.body = ToJson(report).dump();
  return Ask(FormatLeaseMessage(m), {"ok"}).status();
}

}  // namespace asyncps::worker
