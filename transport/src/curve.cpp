#include "asyncps/transport/curve.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>

#include <zmq.h>

namespace asyncps {
namespace {

constexpr std::size_t kZ85KeyChars = 40;

bool IsKey(const std::string& word) {
  std::uint8_t raw[32];
  return word.size() == kZ85KeyChars && zmq_z85_decode(raw, word.c_str()) != nullptr;
}

// The key on `line` (its first whitespace-separated word; the rest is a
// label), or "" for a blank or comment line. Z85 has '#' in its alphabet, so a
// word that is a valid key is a key even when it starts with '#'.
std::string KeyOnLine(const std::string& line) {
  const auto begin = line.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return {};
  const auto end = line.find_first_of(" \t\r", begin);
  std::string word = line.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  if (word[0] == '#' && !IsKey(word)) return {};
  return word;
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

Status CheckCurveKey(const std::string& key, const std::string& what) {
  if (!IsKey(key)) {
    return Status::InvalidArgument(what + ": not a CURVE key (expected 40 Z85 characters, got " +
                                   std::to_string(key.size()) + "); generate keys with asyncps-keygen");
  }
  return Status::OK();
}

Result<CurveKeyPair> GenerateCurveKeyPair() {
  if (!CurveAvailable()) return Status::Unavailable("this libzmq was built without CURVE security");
  char pub[kZ85KeyChars + 1], sec[kZ85KeyChars + 1];
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status::Internal(std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  return CurveKeyPair{pub, sec};
}

Result<std::string> CurvePublicKey(const std::string& secret_key) {
  if (Status st = CheckCurveKey(secret_key, "secret key"); !st.ok()) return st;
  if (!CurveAvailable()) return Status::Unavailable("this libzmq was built without CURVE security");
  char pub[kZ85KeyChars + 1];
  if (zmq_curve_public(pub, secret_key.c_str()) != 0)
    return Status::Internal(std::string("zmq_curve_public failed: ") + zmq_strerror(zmq_errno()));
  return std::string(pub);
}

Result<std::string> ReadCurveKeyFile(const std::string& path, CurveKeyKind kind) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read CURVE key file " + path + ": check the path and its permissions");
  if (kind != CurveKeyKind::kAny) {
    const bool want_secret = kind == CurveKeyKind::kSecret;
    const char* other = want_secret ? "public" : "secret";
    const std::string other_ext = want_secret ? ".pub" : ".key";
    const bool named_other = path.size() > other_ext.size() && path.ends_with(other_ext);
    std::string header;
    std::getline(in, header);
    in.seekg(0);
    const bool says_other = header.starts_with("#") && header.find(std::string(other) + " key") != std::string::npos;
    if (named_other || says_other)
      return Status::InvalidArgument("CURVE key file " + path + " holds a " + other + " key, but a " +
                                     (want_secret ? "secret" : "public") + " key is needed here (asyncps-keygen " +
                                     "NAME writes the secret key to NAME.key and the public key to NAME.pub)");
  }
  std::string line;
  while (std::getline(in, line)) {
    const std::string key = KeyOnLine(line);
    if (key.empty()) continue;
    if (Status st = CheckCurveKey(key, "CURVE key file " + path); !st.ok()) return st;
    return key;
  }
  return Status::InvalidArgument("CURVE key file " + path + " holds no key; generate one with asyncps-keygen");
}

Result<std::vector<std::string>> ReadCurveAllowList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read CURVE allow-list " + path + ": check the path and its permissions");
  std::vector<std::string> keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string key = KeyOnLine(line);
    if (key.empty()) continue;
    if (Status st = CheckCurveKey(key, "CURVE allow-list " + path + " line " + std::to_string(n)); !st.ok()) return st;
    keys.push_back(key);
  }
  if (keys.empty())
    return Status::InvalidArgument("CURVE allow-list " + path +
                                   " lists no client keys: add the .pub keys of the workers allowed in");
  return keys;
}

Result<std::string> CurveKeyFromFileOrEnv(const std::string& file, const char* env_var, CurveKeyKind kind) {
  if (!file.empty()) return ReadCurveKeyFile(file, kind);
  const char* value = env_var ? std::getenv(env_var) : nullptr;
  if (value == nullptr || *value == '\0') return std::string();
  const std::string key = KeyOnLine(value);
  if (Status st = CheckCurveKey(key, std::string("environment variable ") + env_var); !st.ok()) return st;
  return key;
}

}  // namespace asyncps
