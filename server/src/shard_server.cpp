#include "asyncps/server/shard_server.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "asyncps/transport/endpoint.h"
#include "asyncps/server/checkpoint.h"
#include "asyncps/server/curve_auth.h"
#include "asyncps/server/log.h"
#include "asyncps/server/shard_description.h"

namespace asyncps::ps {
namespace {

std::span<const std::byte> Bytes(const zmq::message_t& m) {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

// Where `m` came from (ZeroMQ's Peer-Address: a tcp peer's IP, an ipc peer's
// localhost:UID:GID:PID), "" when unknown.
std::string PeerAddress(zmq::message_t& m) {
  try {
    const char* address = m.gets("Peer-Address");
    return address == nullptr ? "" : address;
  } catch (const zmq::error_t&) {
    return "";  // not a socket transport that knows it
  }
}

}  // namespace

Result<std::unique_ptr<ShardServer>> ShardServer::Bind(zmq::context_t& context, const std::string& endpoint,
                                                       ShardServerOptions options) {
  if (Status st = CheckEndpoint(endpoint, EndpointUse::kBind); !st.ok()) return st;
  if (endpoint.starts_with("ipc://"))
    if (Status st = CheckIpcPathFree(endpoint.substr(6)); !st.ok()) return st;
  try {
    return std::make_unique<ShardServer>(context, endpoint, std::move(options));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind " + endpoint + ": " + e.what());
  }
}

namespace {

ShardOptions WithCheckpointing(ShardOptions o, bool checkpointing) {
  o.checkpointing = checkpointing;
  return o;
}

}  // namespace

ShardServer::ShardServer(zmq::context_t& context, const std::string& endpoint, ShardServerOptions options)
    : options_(options),
      shard_(WithCheckpointing(options.shard, !options.checkpoint_dir.empty())),
      socket_(context, zmq::socket_type::router),
      replies_(options.replies),
      rates_(options.straggler_window, options.straggler_fraction),
      worker_events_(shard_, [](const char* level, const std::string& message) { Log(level, message); }) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * options_.shard.max_message_bytes));
  // Drop replies to peers that vanished instead of blocking the shard.
  socket_.set(zmq::sockopt::router_mandatory, 0);
  socket_.set(zmq::sockopt::sndhwm, 64);
  if (!options_.curve_secret_key.empty()) ApplyCurveServer(socket_, options_.curve_secret_key);
  socket_.bind(endpoint);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  // A CommitAndPull's reply is encoded while its commit is applied (one pass over C).
  shard_.set_reply_stage([this](std::size_t values, Encoding encoding) { return replies_.Stage(values, encoding); });
}

void ShardServer::Serve(const std::atomic<bool>& stop) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  const bool periodic = !options_.checkpoint_dir.empty() && options_.checkpoint_every.count() > 0;
  auto next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
  while (!stop.load(std::memory_order_relaxed)) {
    if (periodic && std::chrono::steady_clock::now() >= next_checkpoint) {
      // Between requests, on the shard's own thread: no lock, a consistent state.
      (void)Checkpoint();
      next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
    }
    try {
      if (std::chrono::steady_clock::now() >= next_publish_) Publish();
      if (shard_.held() > 0) ReleaseHeld();  // holds that ran out, workers that timed out
      if (zmq::poll(&item, 1, std::min(options_.poll_interval, kPublishInterval)) <= 0) continue;
      // Drain what is queued, but check the stop flag between requests.
      for (int i = 0; i < 64 && !stop.load(std::memory_order_relaxed); ++i) {
        if (!(socket_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
        HandleOne();
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: the loop re-checks `stop`
      if (e.num() == ETERM) return;
      Log("error", "shard " + std::to_string(options_.shard.shard_index) + ": " + e.what());
    }
  }
}

void ShardServer::HandleOne() {
  zmq::message_t identity, header, payload, extra;
  if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return;
  if (!identity.more()) {
    // Without a well-formed envelope there is no one to answer safely.
    MaybeLogError("dropped a request with a malformed envelope");
    return;
  }
  (void)socket_.recv(header, zmq::recv_flags::none);
  if (header.more()) (void)socket_.recv(payload, zmq::recv_flags::none);
  // Any frame beyond the second makes the request malformed; drain them all.
  std::size_t extra_frames = 0;
  for (bool more = payload.more(); more; more = extra.more()) {
    (void)socket_.recv(extra, zmq::recv_flags::none);
    ++extra_frames;
  }

  const auto started = std::chrono::steady_clock::now();
  const bool recovering = shard_.recovering();
  const Shard::Outcome out = extra_frames == 0
                                 ? shard_.Handle(Bytes(header), Bytes(payload), reply_, identity.to_string_view())
                                 : shard_.Reject(wire::ErrorCode::Malformed,
                                                 "request has " + std::to_string(2 + extra_frames) +
                                                     " frames; expected a header frame and at most one payload frame",
                                                 reply_);
  if (wire::IsFailure(out.error)) {
    std::string why;
    std::vector<std::uint64_t> scratch;
    const wire::Reply* r = wire::VerifyReply(
        {reinterpret_cast<const std::byte*>(reply_.GetBufferPointer()), reply_.GetSize()}, scratch, &why);
    MaybeLogError(std::string(wire::EnumNameErrorCode(out.error)) + ": " +
                  (r && r->message() ? r->message()->str() : why));
  }

  if (out.staged) replies_.Staged(shard_.changes());
  if (options_.log_workers) worker_events_.Handled(out, out.op == wire::Op::Init ? PeerAddress(header) : "");
  if (recovering && shard_.recovered()) {
    Log("info", "shard " + std::to_string(shard_.options().shard_index) + " re-initialised from worker " +
                    std::to_string(out.worker_id) + "'s copy: resuming at " +
                    std::to_string(shard_.counters().recovered_updates) + " updates (--recover-from-workers)");
  }

  const std::size_t bytes_in = header.size() + payload.size();
  if (out.held) {
    // Answered when the staleness bound lets it go (ReleaseHeld).
    RecordCommit(out);
    live_.bytes_received += bytes_in;
    held_peers_[out.worker_id] = std::move(identity);
  } else {
    Reply(identity, out, bytes_in, started);
  }
  if (shard_.held() > 0) ReleaseHeld();
}

void ShardServer::ReleaseHeld() {
  while (std::optional<Shard::Outcome> out = shard_.ReleaseOne(reply_)) {
    const auto peer = held_peers_.find(out->worker_id);
    if (peer == held_peers_.end()) continue;
    zmq::message_t identity = std::move(peer->second);
    held_peers_.erase(peer);
    Reply(identity, *out, 0, std::chrono::steady_clock::now());
  }
}

void ShardServer::Reply(zmq::message_t& identity, const Shard::Outcome& out, std::size_t bytes_in,
                        std::chrono::steady_clock::time_point started) {
  const zmq::send_flags more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
  if (out.payload.empty()) {
    Record(out, bytes_in, reply_.GetSize(), std::chrono::steady_clock::now() - started);
    if (!socket_.send(identity, more)) return;  // peer gone or backed up: drop the reply
    zmq::message_t header(reply_.GetBufferPointer(), reply_.GetSize());
    (void)socket_.send(header, zmq::send_flags::dontwait);
    return;
  }
  const std::size_t chunk_values = wire::ReplyChunkValues(out.payload.size(), out.encoding, out.reply_chunk_bytes);
  const auto chunks = static_cast<std::uint32_t>((out.payload.size() + chunk_values - 1) / chunk_values);
  const auto* whole = flatbuffers::GetRoot<wire::Reply>(reply_.GetBufferPointer());
  std::size_t bytes_out = 0;
  const bool queued = replies_.Chunks(
      out.payload, out.encoding, shard_.changes(), identity, chunk_values,
      [&](zmq::message_t body, std::size_t index, std::size_t offset) {
        if (chunks > 1) wire::BuildReplyChunk(*whole, static_cast<std::uint32_t>(index), chunks, offset, chunk_header_);
        const flatbuffers::FlatBufferBuilder& built = chunks > 1 ? chunk_header_ : reply_;
        zmq::message_t peer, header(built.GetBufferPointer(), built.GetSize());
        peer.copy(identity);
        bytes_out += header.size() + body.size();
        // Peer gone or backed up: drop the rest (a live client resends).
        return socket_.send(peer, more) && socket_.send(header, more) && socket_.send(body, zmq::send_flags::dontwait);
      });
  Record(out, bytes_in, bytes_out, std::chrono::steady_clock::now() - started);
  if (!queued) {
    // The peer has replies queued it does not read, or replies hold all the
    // memory allowed: drop this one; a live client resends it.
    MaybeLogError("dropped a reply: " + std::to_string(replies_.bytes_held() >> 20) +
                  " MiB of replies queued (a client that does not read its replies?)");
  }
}

void ShardServer::Record(const Shard::Outcome& out, std::size_t bytes_in, std::size_t bytes_out,
                         std::chrono::steady_clock::duration took) {
  const std::size_t op = OpSlot(out.op);
  ++live_.requests[op][static_cast<std::size_t>(out.error)];
  live_.latency[op].Observe(std::chrono::duration<double>(took).count());
  live_.bytes_received += bytes_in;
  live_.bytes_sent += bytes_out;
  RecordCommit(out);
}

void ShardServer::RecordCommit(const Shard::Outcome& out) {
  if (out.applied) {
    last_commit_[out.worker_id] =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    rates_.Record(out.worker_id, std::chrono::steady_clock::now());
  }
}

void ShardServer::Publish() {
  shard_.SweepSegments();
  live_.shard_index = options_.shard.shard_index;
  live_.counters = shard_.counters();
  live_.errors_by_code = shard_.errors_by_code();
  live_.staleness = shard_.staleness();
  live_.reported = shard_.reported();
  live_.replies_dropped = replies_.dropped();
  live_.segments_open = shard_.segments_open();
  if (options_.log_workers) worker_events_.CheckTimeouts();
  live_.workers.clear();
  std::map<std::uint32_t, WorkerRate> rates;
  for (const WorkerRate& r : rates_.Rates(std::chrono::steady_clock::now())) rates[r.worker] = r;
  for (const Shard::WorkerTotals& w : shard_.commits_per_worker()) {
    const auto t = last_commit_.find(w.id);
    const WorkerRate& r = rates[w.id];
    live_.workers.push_back({.id = w.id,
                             .commits = w.commits,
                             .last_commit_unix_s = t == last_commit_.end() ? 0.0 : t->second,
                             .commit_rate = r.commits_per_s,
                             .straggler = r.straggler,
                             .blocked_s = std::chrono::duration<double>(w.blocked).count(),
                             .window = w.window,
                             .train_loss = w.train_loss,
                             .test_accuracy = w.test_accuracy,
                             .unfinished = w.unfinished});
    LogStragglerChange(r);
  }
  DescribeShard(shard_, shard_.bound(), endpoint_, live_);
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    published_ = live_;
  }
  next_publish_ = std::chrono::steady_clock::now() + kPublishInterval;
}

void ShardServer::LogStragglerChange(const WorkerRate& r) {
  if (!options_.log_stragglers) return;
  bool& was = straggling_[r.worker];
  if (r.straggler == was) return;
  was = r.straggler;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.2f", r.commits_per_s);
  const std::string who = "worker " + std::to_string(r.worker);
  if (r.straggler) {
    Log("warn", who + " is a straggler: " + rate + " commits/s over the last " +
                    std::to_string(options_.straggler_window.count() / 1000) + " s, below " +
                    std::to_string(static_cast<int>(options_.straggler_fraction * 100)) +
                    "% of the workers' median (--straggler-fraction)");
  } else {
    Log("info", who + " is no longer a straggler (" + rate + " commits/s)");
  }
}

ShardMetrics ShardServer::metrics() const {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  return published_;
}

Result<bool> ShardServer::RestoreFromCheckpoint() {
  if (options_.checkpoint_dir.empty()) return false;
  Result<bool> restored = RestoreShardFromDir(options_.checkpoint_dir, shard_);
  if (restored.ok() && restored.value()) checkpointed_changes_ = shard_.changes();
  return restored;
}

Status ShardServer::Checkpoint() {
  if (options_.checkpoint_dir.empty() || !shard_.initialised() || shard_.changes() == checkpointed_changes_)
    return Status::OK();
  const std::string path =
      CheckpointPath(options_.checkpoint_dir, options_.shard.shard_index, options_.shard.num_shards);
  const auto started = std::chrono::steady_clock::now();
  Status st = WriteCheckpoint(path, SnapshotShard(shard_));
  if (!st.ok()) {
    if (!checkpoint_failing_)
      Log("error", "shard " + std::to_string(options_.shard.shard_index) + ": " + st.ToString());
    checkpoint_failing_ = true;
    return st;
  }
  if (checkpoint_failing_)
    Log("info", "shard " + std::to_string(options_.shard.shard_index) + ": checkpoints work again");
  checkpoint_failing_ = false;
  checkpointed_changes_ = shard_.changes();
  shard_.MarkCheckpointed();  // the snapshot written is the shard as it is now (this thread)
  live_.checkpoint_duration.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  live_.checkpoint_last_success_unix_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Publish();
  return Status::OK();
}

void ShardServer::MaybeLogError(const std::string& message) {
  if (!options_.log_errors) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_error_log_ < std::chrono::seconds(1)) {
    ++errors_not_logged_;
    return;
  }
  std::string line = "shard " + std::to_string(options_.shard.shard_index) + ": " + message;
  if (errors_not_logged_ > 0)
    line += " (and " + std::to_string(errors_not_logged_) + " more errors in the last second)";
  Log("warn", line);
  last_error_log_ = now;
  errors_not_logged_ = 0;
}

namespace {

// The inode of the Unix socket at `path` in /proc/net/unix, "" if none listens.
std::string UnixSocketInode(const std::string& path) {
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, proto, flags, type, st, inode, name;
    if (fields >> num >> refs >> proto >> flags >> type >> st >> inode >> name && name == path) return inode;
  }
  return "";
}

// "pid N (COMMAND)" of a process holding socket inode `inode`, or "".
std::string ProcessHoldingSocket(const std::string& inode) {
  const std::string target = "socket:[" + inode + "]";
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return "";
  std::string found;
  while (dirent* e = ::readdir(proc)) {
    const std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string fd_dir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      char link[256];
      const std::string fd_path = fd_dir + "/" + f->d_name;
      const ssize_t len = ::readlink(fd_path.c_str(), link, sizeof link - 1);
      if (len > 0 && std::string(link, static_cast<std::size_t>(len)) == target) {
        std::string comm;
        std::ifstream("/proc/" + pid + "/comm") >> comm;
        found = "pid " + pid + (comm.empty() ? "" : " (" + comm + ")");
        break;
      }
    }
    ::closedir(fds);
    if (!found.empty()) break;
  }
  ::closedir(proc);
  return found;
}

}  // namespace

Status CheckIpcPathFree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::OK();  // nothing there
  if (!S_ISSOCK(st.st_mode))
    return Status::InvalidArgument("ipc://" + path +
                                   " is taken by a file that is not a socket: remove it or bind "
                                   "another path");
  // A socket file: live if something accepts connections on it.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return Status::OK();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (!live) return Status::OK();  // left behind by a process that is gone
  // /proc is read while processes come and go: look again before giving up.
  std::string holder;
  for (int attempt = 0; attempt < 5 && holder.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder = ProcessHoldingSocket(UnixSocketInode(path));
  }
  return Status::InvalidArgument("ipc://" + path + " is already served by " +
                                 (holder.empty() ? std::string("another process") : holder) +
                                 ": stop it or bind another path");
}

}  // namespace asyncps::ps
