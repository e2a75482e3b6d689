// Seeded, reproducible parameter initialisation (Keras defaults).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace asyncps::models {

// A small deterministic generator (splitmix64): the same seed gives the same
// weights on every platform and standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [0, 1) with 24 random bits.
  float Uniform();
  // Uniform in [0, n). REQUIRES: n > 0.
  std::size_t Below(std::size_t n);

 private:
  std::uint64_t state_;
};

// Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
void GlorotUniform(std::span<float> w, std::size_t fan_in, std::size_t fan_out, Rng& rng);

}  // namespace asyncps::models
