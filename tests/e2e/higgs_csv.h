// A Higgs-like CSV for the end-to-end tests of tabular data.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "keras_json.h"

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

// The Higgs-like training the data and predict tests share: train.csv (4,000
// rows) and test.csv (1,000) in `dir`, and dense.json, Dense(16, relu) then
// Dense(2, softmax) over the 5 features left once EventId and Weight are dropped.
struct HiggsTraining {
  std::filesystem::path train, test, model;
  // asyncps-local (`local`) on them: the files, --drop-columns, --standardize
  // and --model; each test adds its rule, epochs and outputs.
  std::vector<std::string> Args(const std::string& local) const {
    return {local,         "--train-csv",    train.string(),   "--test-csv",
            test.string(), "--drop-columns", "EventId,Weight", "--standardize",
            "--model",     model.string()};
  }
};

inline HiggsTraining WriteHiggsTraining(const std::filesystem::path& dir) {
  HiggsTraining h{dir / "train.csv", dir / "test.csv", dir / "dense.json"};
  WriteHiggsCsv(h.train, 4000, 7);
  WriteHiggsCsv(h.test, 1000, 11);
  std::ofstream(h.model) << models::testing::KerasModelJson({models::testing::KDense("dense", 16, "relu"),
                                                             models::testing::KDense("dense_1", 2, "softmax")},
                                                            {5}, models::testing::KerasForm::kTfKeras)
                                .dump();
  return h;
}

}  // namespace asyncps::e2e
