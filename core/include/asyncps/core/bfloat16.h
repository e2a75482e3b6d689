// bfloat16: float32's upper 16 bits, rounded to nearest even. The codec of the
// compressed wire (asyncps/compression.h); internal to asyncps (not installed).
#pragma once

#include <bit>
#include <cstdint>
#include <span>

namespace asyncps {

// bfloat16, rounded to nearest even (NaN stays NaN).
std::uint16_t ToBfloat16(float v);
// The same for a finite value, branch-free so that loops over it vectorise.
inline std::uint16_t ToBfloat16Finite(float v);
inline float FromBfloat16(std::uint16_t b);
// out[i] = ToBfloat16Finite(in[i]).
void EncodeBfloat16(std::span<const float> in, std::uint16_t* out);

inline std::uint16_t ToBfloat16Finite(float v) {
  const auto bits = std::bit_cast<std::uint32_t>(v);
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float FromBfloat16(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

}  // namespace asyncps
