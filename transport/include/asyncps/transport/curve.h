// CURVE keys: ZeroMQ's CurveZMQ security (Curve25519 key exchange, every
// message encrypted and authenticated) for asyncps connections.
//
// Keys are Z85 text, 40 characters each (a 32-byte Curve25519 key). A key file
// holds one key on its first line that is neither empty nor a '#' comment; an
// allow-list file holds one client public key per such line. asyncps-keygen
// NAME writes NAME.key (secret, mode 0600) and NAME.pub.
//
// Security is on for a connection when ClientOptions::curve_server_key is set;
// the client then also needs its own secret key (its public key is derived).
// The shard accepts only clients whose public key is on its allow-list.
#pragma once

#include <string>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters: give it to the other side
  std::string secret_key;  // Z85, 40 characters: never leaves this machine
};

// A new random key pair. Fails only if libzmq was built without CURVE.
Result<CurveKeyPair> GenerateCurveKeyPair();

// OK when `key` is a 40-character Z85 key; otherwise InvalidArgument naming
// `what` (e.g. "--curve-secret-key-file /etc/asyncps/server.key").
Status CheckCurveKey(const std::string& key, const std::string& what);

// The public key that belongs to `secret_key`.
Result<std::string> CurvePublicKey(const std::string& secret_key);

// Which key a file is expected to hold.
enum class CurveKeyKind { kAny, kPublic, kSecret };

// Reads a key file (see above). Errors name the file and the fix. With kSecret
// or kPublic, a file that says it holds the other kind (asyncps-keygen's header
// comment, or a NAME.pub / NAME.key name) is refused: a public key used as a
// secret one would pass every format check and fail only at the handshake,
// and a secret key passed as a public one is about to be shared.
Result<std::string> ReadCurveKeyFile(const std::string& path, CurveKeyKind kind = CurveKeyKind::kAny);

// Reads an allow-list file: every non-empty, non-comment line is a client
// public key (text after the key on the same line is ignored, e.g. "KEY worker-3").
// Fails on a malformed key (naming file and line) or an empty list.
Result<std::vector<std::string>> ReadCurveAllowList(const std::string& path);

// The key from `file` if given, else from environment variable `env_var` (the
// Z85 key itself), else "" (security off). Either source is checked; a file
// as ReadCurveKeyFile(file, kind) checks it.
Result<std::string> CurveKeyFromFileOrEnv(const std::string& file, const char* env_var, CurveKeyKind kind);

// True when this libzmq supports CURVE.
bool CurveAvailable();

}  // namespace asyncps
