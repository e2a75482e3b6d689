// Hand-built protocol messages for tests that talk to a shard directly.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "asyncps/wire/wire.h"
#include "asyncps/core/bfloat16.h"

namespace asyncps::testing {

struct RequestFields {
  wire::Op op = wire::Op::Pull;
  std::uint32_t protocol_version = wire::kProtocolVersion;
  std::uint32_t worker_id = 1;
  std::uint64_t seq = 1;
  std::uint32_t shard_index = 0;
  std::uint32_t num_shards = 1;
  std::uint64_t last_pulled_updates = 0;
  std::uint64_t payload_floats = 0;
  Algorithm algorithm = Algorithm::kAdag;
  const ParameterLayout* layout = nullptr;  // Hello: the layout sent; also gives the fingerprint
  std::uint64_t fingerprint_override = 0;   // non-zero: sent instead of the layout's
  std::uint64_t session = 0;                // the client instance (commit dedupe)
  wire::Encoding payload_encoding = wire::Encoding::Float32;
  bool payload_sparse = false;
  wire::Encoding pull_encoding = wire::Encoding::Float32;
  bool observer = false;  // Hello: a client that never commits
  std::string segment;              // shared-memory segment named; empty: none
  bool payload_in_segment = false;  // the payload lies in its request region
  std::uint64_t reply_chunk_bytes = 0;  // a larger pulled slice comes in chunks
};

// The header bytes of `f`, built by the wire module like every request.
inline std::vector<std::byte> EncodeRequest(const RequestFields& f, const ParameterLayout& layout) {
  const ParameterLayout& sent = f.layout ? *f.layout : layout;
  return wire::EncodeRequest({.op = f.op,
                              .protocol_version = f.protocol_version,
                              .worker_id = f.worker_id,
                              .seq = f.seq,
                              .fingerprint = f.fingerprint_override ? f.fingerprint_override
                                                                    : sent.Fingerprint(f.num_shards),
                              .shard_index = f.shard_index,
                              .num_shards = f.num_shards,
                              .algorithm = wire::ToWire(f.algorithm).value(),
                              .layout = &sent,
                              .last_pulled_updates = f.last_pulled_updates,
                              .payload_floats = f.payload_floats,
                              .session = f.session,
                              .payload_encoding = f.payload_encoding,
                              .payload_sparse = f.payload_sparse,
                              .pull_encoding = f.pull_encoding,
                              .observer = f.observer,
                              .segment = f.segment,
                              .payload_in_segment = f.payload_in_segment,
                              .reply_chunk_bytes = f.reply_chunk_bytes});
}

// A layout of one tensor "w" of n floats.
inline ParameterLayout OneTensorLayout(std::size_t n) {
  ParameterLayout l;
  l.Add("w", {n});
  return l;
}

inline std::vector<std::byte> FloatBytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());  // memcpy(nullptr, ...) is UB even for 0 bytes
  return out;
}

// A sparse payload frame: the positions, then the values in `encoding`.
inline std::vector<std::byte> SparseBytes(const std::vector<std::uint32_t>& at, const std::vector<float>& values,
                                          Encoding encoding) {
  const std::size_t bpv = BytesPerValue(encoding);
  std::vector<std::byte> out(at.size() * (4 + bpv));
  if (at.empty()) return out;
  std::memcpy(out.data(), at.data(), at.size() * 4);
  for (std::size_t j = 0; j < values.size(); ++j) {
    if (encoding == Encoding::kBfloat16) {
      const std::uint16_t b = ToBfloat16(values[j]);
      std::memcpy(out.data() + at.size() * 4 + 2 * j, &b, 2);
    } else {
      std::memcpy(out.data() + at.size() * 4 + 4 * j, &values[j], 4);
    }
  }
  return out;
}

}  // namespace asyncps::testing
