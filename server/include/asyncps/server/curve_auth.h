// CurveAuthenticator: the server side of asyncps' CURVE security.
//
// With security on, every shard socket is a CURVE server (ApplyCurveServer):
// each connection is encrypted and authenticated with Curve25519 (CurveZMQ),
// and during each handshake libzmq asks the context's ZAP handler (RFC 27,
// inproc://zeromq.zap.01) whether the client's public key may connect. This
// class is that handler: a thread that answers 200 for keys on the allow-list
// and 400 for every other key. A client without CURVE, or with the wrong server
// key, fails the handshake before the handler is asked. A rejected peer never
// reaches the shard: none of its messages are read, none answered.
//
// Thread-safety: construct and destroy on one thread; counters are atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "asyncps/core/status.h"

namespace asyncps::ps {

// The server's CURVE settings, from its flags (see LoadCurveServerConfig).
struct CurveServerConfig {
  std::string secret_key;            // Z85; empty: security off
  std::string public_key;            // derived: what clients set as curve_server_key
  std::vector<std::string> allowed;  // client public keys (Z85)
  bool on() const { return !secret_key.empty(); }
};

// The secret key from `secret_key_file`, else from the environment variable
// ASYNCPS_CURVE_SECRET_KEY (the Z85 key itself), and the allow-list from
// `allow_file`. Neither key nor list: security off. A key without a list (or
// the reverse) is an error: CURVE without an allow-list would admit anyone.
Result<CurveServerConfig> LoadCurveServerConfig(const std::string& secret_key_file, const std::string& allow_file);

// The ZAP domain of shard sockets (ZAP requests carry it).
inline constexpr const char* kZapDomain = "asyncps";

// Makes `socket` a CURVE server with `secret_key` (Z85). REQUIRES: before bind,
// and a CurveAuthenticator running on the socket's context for as long as the
// socket is open (without one, libzmq would admit any CURVE client).
void ApplyCurveServer(zmq::socket_t& socket, const std::string& secret_key);

class CurveAuthenticator {
 public:
  // Binds the ZAP endpoint on `context` and starts answering. Must exist before
  // any CURVE server socket of the context accepts a connection, and outlive
  // them. Fails if `allowed_public_keys` is empty or malformed, or the ZAP
  // endpoint is taken (one authenticator per context).
  static Result<std::unique_ptr<CurveAuthenticator>> Start(zmq::context_t& context,
                                                           const std::vector<std::string>& allowed_public_keys);
  ~CurveAuthenticator();
  CurveAuthenticator(const CurveAuthenticator&) = delete;
  CurveAuthenticator& operator=(const CurveAuthenticator&) = delete;

  std::uint64_t accepted() const { return accepted_.load(); }
  // Handshakes refused: keys not on the allow-list, and malformed ZAP requests.
  std::uint64_t denied() const { return denied_.load(); }

 private:
  CurveAuthenticator(zmq::socket_t socket, std::unordered_set<std::string> allowed);
  void Run();
  void HandleOne();

  zmq::socket_t socket_;
  std::unordered_set<std::string> allowed_;  // Z85 public keys
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0}, denied_{0};
  std::chrono::steady_clock::time_point last_log_{};
  std::thread thread_;
};

}  // namespace asyncps::ps
