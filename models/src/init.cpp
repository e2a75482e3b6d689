#include "asyncps/models/init.h"

#include <cmath>

namespace asyncps::models {

std::uint64_t Rng::Next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float Rng::Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }

std::size_t Rng::Below(std::size_t n) {
  // Lemire's multiply-shift; the tiny bias is irrelevant for shuffling.
  return static_cast<std::size_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
}

void GlorotUniform(std::span<float> w, std::size_t fan_in, std::size_t fan_out, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  for (float& v : w) v = (2.0f * rng.Uniform() - 1.0f) * limit;
}

}  // namespace asyncps::models
