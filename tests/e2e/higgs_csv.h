// A Higgs-like CSV for the end-to-end tests of tabular data.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace asyncps::e2e {

// A Higgs-like CSV (Dist-Keras' ATLAS Higgs example): EventId, features of
// very different scales and signs (some in scientific notation), a Weight
// column that must not be trained on, and the label s/b. The rule is linear in
// the standardized features, so a small Dense network learns it.
inline void WriteHiggsCsv(const std::filesystem::path& path, std::size_t rows, std::uint32_t seed) {
  std::ofstream out(path);
  out << "EventId,DER_mass_MMC,DER_pt_ratio,PRI_tau_eta,PRI_jet_phi,DER_tiny,Weight,Label\n";
  std::uint32_t state = seed;
  auto uniform = [&]() {  // xorshift32 in [0, 1)
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<double>(state) / 4294967296.0;
  };
  for (std::size_t r = 0; r < rows; ++r) {
    const double mass = 60 + 120 * uniform();      // ~[60, 180]
    const double ratio = 4 * uniform();            // [0, 4]
    const double eta = -2.5 + 5 * uniform();       // [-2.5, 2.5]
    const double phi = -3.14 + 6.28 * uniform();   // noise
    const double tiny = (uniform() - 0.5) * 2e-4;  // [-1e-4, 1e-4]
    const double score = (mass - 120) / 30 - (ratio - 2) + eta + tiny * 1e4;
    const bool signal = score > 0;
    char line[256];
    std::snprintf(line, sizeof line, "%zu,%.3f,%.4f,%.3f,%.3f,%.6e,%.5f,%s\n", 100000 + r, mass, ratio, eta, phi, tiny,
                  signal ? 0.002 : 1.5, signal ? "s" : "b");
    out << line;
  }
}

}  // namespace asyncps::e2e
