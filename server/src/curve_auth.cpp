#include "asyncps/server/curve_auth.h"

#include "asyncps/transport/curve.h"
#include "asyncps/server/log.h"

namespace asyncps::ps {

Result<CurveServerConfig> LoadCurveServerConfig(const std::string& secret_key_file, const std::string& allow_file) {
  CurveServerConfig config;
  Result<std::string> secret =
      CurveKeyFromFileOrEnv(secret_key_file, "ASYNCPS_CURVE_SECRET_KEY", CurveKeyKind::kSecret);
  if (!secret.ok()) return secret.status();
  config.secret_key = secret.value();
  if (config.secret_key.empty() && allow_file.empty()) return config;  // off
  if (config.secret_key.empty())
    return Status::InvalidArgument(
        "--curve-allow needs the server's secret key: --curve-secret-key-file FILE or "
        "ASYNCPS_CURVE_SECRET_KEY (generate one with asyncps-keygen)");
  if (allow_file.empty())
    return Status::InvalidArgument(
        "a CURVE secret key needs --curve-allow FILE, the public keys of the clients "
        "allowed in (without it any client could connect)");
  Result<std::string> pub = CurvePublicKey(config.secret_key);
  if (!pub.ok()) return pub.status();
  config.public_key = pub.value();
  Result<std::vector<std::string>> allowed = ReadCurveAllowList(allow_file);
  if (!allowed.ok()) return allowed.status();
  config.allowed = std::move(allowed).value();
  return config;
}

void ApplyCurveServer(zmq::socket_t& socket, const std::string& secret_key) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, secret_key);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  // libzmq lets every CURVE client in when no ZAP handler is bound (forcing one,
  // ZMQ_ZAP_ENFORCE_DOMAIN, is draft API that Debian's libzmq lacks): callers
  // start the CurveAuthenticator first and stop it last.
}

Result<std::unique_ptr<CurveAuthenticator>> CurveAuthenticator::Start(
    zmq::context_t& context, const std::vector<std::string>& allowed_public_keys) {
  if (!CurveAvailable()) return Status::Unavailable("this libzmq was built without CURVE security");
  if (allowed_public_keys.empty())
    return Status::InvalidArgument("the CURVE allow-list is empty: no client could connect");
  std::unordered_set<std::string> allowed;
  for (const std::string& key : allowed_public_keys) {
    if (Status st = CheckCurveKey(key, "allow-listed client key"); !st.ok()) return st;
    allowed.insert(key);
  }
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("cannot bind the ZAP handler (inproc://zeromq.zap.01): ") + e.what() +
                            " (one CurveAuthenticator per ZeroMQ context)");
  }
  return std::unique_ptr<CurveAuthenticator>(new CurveAuthenticator(std::move(socket), std::move(allowed)));
}

CurveAuthenticator::CurveAuthenticator(zmq::socket_t socket, std::unordered_set<std::string> allowed)
    : socket_(std::move(socket)), allowed_(std::move(allowed)) {
  thread_ = std::thread([this] { Run(); });
}

CurveAuthenticator::~CurveAuthenticator() {
  stop_.store(true);
  thread_.join();
}

void CurveAuthenticator::Run() {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  while (!stop_.load()) {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) > 0) HandleOne();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) Log("error", std::string("CURVE authenticator: ") + e.what());
    }
  }
  socket_.close();  // on this thread: the socket is this thread's alone
}

void CurveAuthenticator::HandleOne() {
  // ZAP request (RFC 27): version, request id, domain, address, routing id,
  // mechanism, then credentials (CURVE: the client's 32-byte public key).
  std::vector<zmq::message_t> frames;
  zmq::message_t frame;
  do {
    if (!socket_.recv(frame, zmq::recv_flags::none)) return;
    frames.push_back(std::move(frame));
    frame = zmq::message_t();
  } while (frames.back().more() && frames.size() < 16);
  // Drain a runaway request (the frame just read says whether more follow).
  for (bool more = frames.back().more(); more; more = frame.more())
    if (!socket_.recv(frame, zmq::recv_flags::none)) break;

  std::string status = "400", text = "client key not allowed", client;
  const bool well_formed = frames.size() >= 7 && frames[0].to_string() == "1.0" && frames[5].to_string() == "CURVE" &&
                           frames[6].size() == 32;
  if (well_formed) {
    char z85[41];
    zmq_z85_encode(z85, static_cast<const std::uint8_t*>(frames[6].data()), 32);
    client = z85;
    if (allowed_.count(client)) {
      status = "200";
      text = "OK";
    }
  } else {
    text = "malformed ZAP request";
  }
  (status == "200" ? accepted_ : denied_).fetch_add(1);
  if (status != "200") {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_log_ >= std::chrono::seconds(1)) {
      last_log_ = now;
      const std::string address = frames.size() > 3 ? frames[3].to_string() : "?";
      Log("warn", "refused a connection from " + address + ": " +
                      (client.empty() ? text : "client key " + client + " is not on the CURVE allow-list"));
    }
  }
  // ZAP reply: version, request id, status code, status text, user id, metadata.
  const std::string request_id = frames.size() > 1 ? frames[1].to_string() : std::string();
  const std::string user = status == "200" ? client : std::string();
  const std::string reply[] = {"1.0", request_id, status, text, user, ""};
  for (std::size_t i = 0; i < 6; ++i)
    (void)socket_.send(zmq::buffer(reply[i]), i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

}  // namespace asyncps::ps
