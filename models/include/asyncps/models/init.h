// Seeded, reproducible parameter initialisation (Keras defaults).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
  // Standard normal (Box-Muller on two Uniform draws).
  float Normal();

 private:
  std::uint64_t state_;
};

// Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
void GlorotUniform(std::span<float> w, std::size_t fan_in, std::size_t fan_out, Rng& rng);

// A Keras initializer (tf.keras.initializers), with Keras' formulas. The named
// ones are VarianceScaling: GlorotUniform = (1, fan_avg, uniform), GlorotNormal =
// (1, fan_avg, truncated_normal), HeNormal/HeUniform = (2, fan_in, ...),
// LecunNormal/LecunUniform = (1, fan_in, ...).
struct Initializer {
  enum class Kind { kZeros, kConstant, kRandomUniform, kRandomNormal, kTruncatedNormal, kVarianceScaling };
  enum class Mode { kFanIn, kFanOut, kFanAvg };
  enum class Distribution { kUniform, kTruncatedNormal, kUntruncatedNormal };
  Kind kind = Kind::kVarianceScaling;
  float a = 0.0f;                                      // kConstant: the value; kRandomUniform: minval; normals: mean
  float b = 0.0f;                                      // kRandomUniform: maxval; normals: stddev
  float scale = 1.0f;                                  // kVarianceScaling
  Mode mode = Mode::kFanAvg;                           // kVarianceScaling
  Distribution distribution = Distribution::kUniform;  // kVarianceScaling
  // Keras' own seed for this initializer; unset: the model's generator.
  std::optional<std::uint64_t> seed;

  static Initializer Glorot() { return {}; }
  static Initializer Zeros() {
    Initializer z;
    z.kind = Kind::kZeros;
    return z;
  }
  static Initializer Constant(float value) {
    Initializer c;
    c.kind = Kind::kConstant;
    c.a = value;
    return c;
  }
};

// Fills w from `init`: a seeded initializer from its own Rng(seed ^ stream)
// (`stream` tells apart tensors sharing one Keras seed), otherwise from `rng`.
// Truncated normals redraw values beyond two standard deviations, as Keras does.
void Initialize(const Initializer& init, std::span<float> w, std::size_t fan_in, std::size_t fan_out, Rng& rng,
                std::uint64_t stream = 0);

}  // namespace asyncps::models
