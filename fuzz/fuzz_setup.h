// What the fuzz targets and the corpus generator share: the fuzzed shard's
// layout and options, and valid requests built with the client's wire module.
#pragma once

#include <cstring>
#include <vector>

#include "asyncps/wire/wire.h"
#include "asyncps/server/shard.h"
#include "asyncps/core/bfloat16.h"

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

// The fuzzed requests' defaults: worker 1, seq 1.
inline wire::RequestHeader BaseRequest() {
  wire::RequestHeader h;
  h.worker_id = 1;
  h.seq = 1;
  return h;
}

// A valid request header for `layout` (sent with Hello only): `h` with the
// layout's fingerprint, built by the wire module like every request.
inline std::vector<std::byte> EncodeRequest(wire::RequestHeader h, const ParameterLayout& layout) {
  h.fingerprint = layout.Fingerprint(h.num_shards);
  h.layout = &layout;
  return wire::EncodeRequest(h);
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
