// PayloadView: a commit's, init's or pull's values as they travel (float32 or
// bfloat16, dense or at positions), read in place. Internal (not installed):
// the wire module, the shard and the client read payloads through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "asyncps/core/compression.h"
#include "asyncps/core/bfloat16.h"

namespace asyncps {

// A payload as it travels: `count` values in `encoding`, one per element of
// the slice (dense: `indices` empty) or at `indices` (sparse: strictly
// increasing positions within the slice). Points into a frame; owns nothing.
struct PayloadView {
  Encoding encoding = Encoding::kFloat32;
  const void* values = nullptr;  // aligned for the encoding
  std::size_t count = 0;
  std::span<const std::uint32_t> indices;

  bool sparse() const { return !indices.empty(); }
  float value(std::size_t j) const;
};

// A view of float32 values (dense).
PayloadView DenseView(std::span<const float> values);

// Index (among the payload's values) of the first NaN or Inf; -1 if none.
std::ptrdiff_t FirstNonFinite(const PayloadView& p);
std::ptrdiff_t FirstNonFinite(std::span<const float> values);

// Copies `values` to `out` (float32) and returns the index of the first NaN or
// Inf among them, -1 if none: FirstNonFinite and a copy in one pass. After a
// non-finite value `out` holds an unspecified part of the copy.
std::ptrdiff_t CopyCheckingFinite(std::span<const float> values, float* out);

// out = (w - w0) / divisor, the formula of update_rule.h's ComputeDelta, and
// the index of the first NaN or Inf among the results, -1 if none, in one pass
// (the delta rules' commit, computed where it will travel from).
// REQUIRES: w.size() == w0.size(), divisor != 0, out holds w.size() floats and
// overlaps neither.
std::ptrdiff_t DeltaCheckingFinite(std::span<const float> w, std::span<const float> w0, float divisor, float* out);

// A lossy commit's dense bf16 frame with error feedback, in one pass: out =
// bfloat16 of values + residual, and the residual becomes what that rounding
// dropped. REQUIRES: values finite (checked before: the residual moves on in
// place); residual and out hold values.size() values; nothing overlaps.
void EncodeBfloat16WithResidual(std::span<const float> values, std::span<float> residual, std::uint16_t* out);

// Writes `values` dense in `encoding` at the start of `out` (the bytes a
// dense payload of them has). REQUIRES: out holds values.size() *
// BytesPerValue(encoding) bytes, aligned for the encoding.
void EncodeSlice(std::span<const float> values, Encoding encoding, std::span<std::byte> out);

// out = the payload's values, dense. REQUIRES: !p.sparse(), out.size() == p.count.
void Decode(const PayloadView& p, std::span<float> out);
// Decode into both `out` and `copy` in one pass over the payload.
// REQUIRES: as above, and copy.size() == out.size(), no overlap.
void Decode(const PayloadView& p, std::span<float> out, std::span<float> copy);

}  // namespace asyncps
