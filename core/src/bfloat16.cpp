#include "asyncps/core/bfloat16.h"

#include "asyncps/core/dispatch.h"

namespace asyncps {

std::uint16_t ToBfloat16(float v) {
  const auto bits = std::bit_cast<std::uint32_t>(v);
  // Round to nearest even on the 16 bits dropped. A NaN must not round into Inf.
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0)
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  return ToBfloat16Finite(v);
}

ASYNCPS_HOT_KERNEL void EncodeBfloat16(std::span<const float> in, std::uint16_t* __restrict out) {
  const float* __restrict src = in.data();
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = ToBfloat16Finite(src[i]);
}

}  // namespace asyncps
