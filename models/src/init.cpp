#include "asyncps/models/init.h"

#include <algorithm>
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

float Rng::Normal() {
  // 1 - Uniform() is in (0, 1]: the logarithm is finite.
  const float u1 = 1.0f - Uniform(), u2 = Uniform();
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
}

namespace {
// Normal(mean, stddev), redrawn while beyond two standard deviations.
float TruncatedNormal(float mean, float stddev, Rng& rng) {
  for (;;) {
    const float z = rng.Normal();
    if (std::fabs(z) <= 2.0f) return mean + stddev * z;
  }
}
}  // namespace

void Initialize(const Initializer& init, std::span<float> w, std::size_t fan_in, std::size_t fan_out, Rng& shared,
                std::uint64_t stream) {
  using K = Initializer::Kind;
  std::optional<Rng> own;
  if (init.seed) own.emplace(*init.seed ^ (stream * 0x9E3779B97F4A7C15ull));
  Rng& rng = own ? *own : shared;
  switch (init.kind) {
    case K::kZeros:
      for (float& v : w) v = 0.0f;
      return;
    case K::kConstant:
      for (float& v : w) v = init.a;
      return;
    case K::kRandomUniform:
      for (float& v : w) v = init.a + (init.b - init.a) * rng.Uniform();
      return;
    case K::kRandomNormal:
      for (float& v : w) v = init.a + init.b * rng.Normal();
      return;
    case K::kTruncatedNormal:
      for (float& v : w) v = TruncatedNormal(init.a, init.b, rng);
      return;
    case K::kVarianceScaling:
      break;
  }
  using M = Initializer::Mode;
  using D = Initializer::Distribution;
  if (init.scale == 1.0f && init.mode == M::kFanAvg && init.distribution == D::kUniform) {
    GlorotUniform(w, fan_in, fan_out, rng);  // the seed CNN's exact weights
    return;
  }
  const float n = init.mode == M::kFanIn    ? static_cast<float>(fan_in)
                  : init.mode == M::kFanOut ? static_cast<float>(fan_out)
                                            : 0.5f * static_cast<float>(fan_in + fan_out);
  const float variance = init.scale / std::max(1.0f, n);
  switch (init.distribution) {
    case D::kUniform: {
      const float limit = std::sqrt(3.0f * variance);
      for (float& v : w) v = (2.0f * rng.Uniform() - 1.0f) * limit;
      return;
    }
    case D::kTruncatedNormal: {
      // The stddev of a unit normal truncated to [-2, 2], as Keras divides by.
      const float stddev = std::sqrt(variance) / 0.87962566103423978f;
      for (float& v : w) v = TruncatedNormal(0.0f, stddev, rng);
      return;
    }
    case D::kUntruncatedNormal: {
      const float stddev = std::sqrt(variance);
      for (float& v : w) v = stddev * rng.Normal();
      return;
    }
  }
}

}  // namespace asyncps::models
