// Hand-built protocol messages for tests that talk to a shard directly.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "asyncps/wire/wire.h"
#include "asyncps/core/bfloat16.h"

namespace asyncps::testing {

// A request a test sends: the real header (wire::RequestHeader) with the
// tests' defaults (worker 1, sequence 1). EncodeRequest fills in what the
// client derives: the layout and its fingerprint.
struct RequestFields : wire::RequestHeader {
  RequestFields() {
    worker_id = 1;
    seq = 1;
  }
  std::uint64_t fingerprint_override = 0;  // non-zero: sent instead of the layout's
};

// The header bytes of `f` (layout: f.layout, or `layout`), built by the wire
// module like every request.
inline std::vector<std::byte> EncodeRequest(const RequestFields& f, const ParameterLayout& layout) {
  wire::RequestHeader h = f;
  h.layout = f.layout ? f.layout : &layout;
  h.fingerprint = f.fingerprint_override ? f.fingerprint_override : h.layout->Fingerprint(f.num_shards);
  return wire::EncodeRequest(h);
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
