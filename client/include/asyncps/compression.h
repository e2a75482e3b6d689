// Compression: how payload values travel on the wire, and their codecs.
//
// Pulls and commits move float32 by default. Two optional lossy forms cut the
// bytes of an exchange:
//   bf16   bfloat16, float32's upper 16 bits rounded to nearest even: the same
//          range, 8 significant bits, half the bytes. For pulls and commits.
//   top-k  commits only: of each shard's slice, only the fraction k of entries
//          with the largest magnitude travel, as (index, value) pairs.
// A worker keeps what a lossy commit did not send (the entries left out, the
// rounding) as a residual and adds it to its next commit (error feedback), so
// an update is delayed, not dropped - except what is still in the residual when
// the worker stops. The PS keeps float32 throughout.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "asyncps/status.h"

namespace asyncps {

enum class Encoding : std::uint8_t { kFloat32, kBfloat16 };

// "f32", "bf16".
const char* EncodingName(Encoding e);
// Accepts "f32"/"float32" and "bf16"/"bfloat16", case-insensitive.
Result<Encoding> ParseEncoding(std::string_view name);
std::size_t BytesPerValue(Encoding e);

struct Compression {
  Encoding pull = Encoding::kFloat32;    // the weights a pull returns
  Encoding commit = Encoding::kFloat32;  // the values a commit sends
  // 0: dense commits. In (0, 1): each commit sends this fraction of each
  // shard's entries (at least one), those of largest magnitude.
  double commit_top_k = 0;
  // Keep what lossy commits did not send and add it to the next commit.
  bool error_feedback = true;

  bool lossy_commits() const { return commit != Encoding::kFloat32 || commit_top_k > 0; }
  // OK, or InvalidArgument naming the bad field.
  Status Validate() const;
};

// bfloat16, rounded to nearest even (NaN stays NaN).
std::uint16_t ToBfloat16(float v);
// The same for a finite value, branch-free so that loops over it vectorise.
inline std::uint16_t ToBfloat16Finite(float v);
inline float FromBfloat16(std::uint16_t b);
// out[i] = ToBfloat16Finite(in[i]).
void EncodeBfloat16(std::span<const float> in, std::uint16_t* out);

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

// out = the payload's values, dense. REQUIRES: !p.sparse(), out.size() == p.count.
void Decode(const PayloadView& p, std::span<float> out);

// The positions of the k entries of `values` with the largest magnitude,
// increasing (ties broken toward lower positions). Exact; one pass over
// `values` plus a selection among a sampled candidate set. `scratch` is reused.
void SelectTopK(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& out,
                std::vector<float>& scratch);

inline std::uint16_t ToBfloat16Finite(float v) {
  const auto bits = std::bit_cast<std::uint32_t>(v);
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float FromBfloat16(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

}  // namespace asyncps
