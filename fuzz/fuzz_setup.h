// What the fuzz targets and the corpus generator share: the fuzzed shard's
// layout and options, and valid requests built with the client's wire module.
#pragma once

#include <cstring>
#include <vector>

#include "internal/wire.h"
#include "shard.h"

namespace asyncps::fuzz {

// 20 floats: shard 0 of 2 holds 0..10, shard 1 of 2 holds 10..20.
inline ParameterLayout FuzzLayout() {
  ParameterLayout l;
  l.Add("w", {4, 4});
  l.Add("b", {4});
  return l;
}

// Small limits: the fuzzer must not spend its time (or memory) on huge layouts.
inline ps::ShardOptions FuzzShardOptions(std::uint32_t shard_index, std::uint32_t num_shards, bool reject_non_finite) {
  ps::ShardOptions o;
  o.shard_index = shard_index;
  o.num_shards = num_shards;
  o.max_parameters = std::size_t{1} << 16;
  o.max_workers = 64;
  o.max_message_bytes = std::size_t{1} << 20;
  o.reject_non_finite = reject_non_finite;
  return o;
}

struct RequestSpec {
  wire::Op op = wire::Op::Pull;
  std::uint32_t worker_id = 1;
  std::uint64_t seq = 1;
  std::uint32_t shard_index = 0;
  std::uint32_t num_shards = 1;
  Algorithm algorithm = Algorithm::kAdag;
  std::uint64_t last_pulled_updates = 0;
  std::uint64_t payload_floats = 0;
  wire::Encoding payload_encoding = wire::Encoding::Float32;
  bool payload_sparse = false;
  wire::Encoding pull_encoding = wire::Encoding::Float32;
};

// A valid request header for `layout` (the layout itself is sent with Hello only).
inline std::vector<std::byte> EncodeRequest(const RequestSpec& r, const ParameterLayout& layout) {
  flatbuffers::FlatBufferBuilder fbb;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::TensorSpec>>> specs;
  if (r.op == wire::Op::Hello) specs = wire::BuildLayout(fbb, layout);
  wire::RequestBuilder b(fbb);
  b.add_protocol_version(wire::kProtocolVersion);
  b.add_op(r.op);
  b.add_worker_id(r.worker_id);
  b.add_seq(r.seq);
  b.add_fingerprint(layout.Fingerprint(r.num_shards));
  b.add_shard_index(r.shard_index);
  b.add_num_shards(r.num_shards);
  b.add_algorithm(wire::ToWire(r.algorithm));
  if (r.op == wire::Op::Hello) b.add_layout(specs);
  b.add_last_pulled_updates(r.last_pulled_updates);
  b.add_payload_floats(r.payload_floats);
  b.add_payload_encoding(r.payload_encoding);
  b.add_payload_sparse(r.payload_sparse);
  b.add_pull_encoding(r.pull_encoding);
  fbb.Finish(b.Finish(), wire::kFileIdentifier);
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return {p, p + fbb.GetSize()};
}

inline std::vector<std::byte> FloatBytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// `v` in bfloat16.
inline std::vector<std::byte> Bfloat16Bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 2);
  if (!v.empty()) EncodeBfloat16(v, reinterpret_cast<std::uint16_t*>(out.data()));
  return out;
}

}  // namespace asyncps::fuzz
