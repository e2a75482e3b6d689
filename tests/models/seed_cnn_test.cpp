#include "asyncps/models/seed_cnn.h"

#include <cstdlib>
#include <thread>

#include "asyncps/models/blas_threads.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "test_util.h"

extern "C" int openblas_get_num_threads(void);  // OpenBLAS, linked through asyncps_models

using namespace asyncps::models;

TEST_CASE("The seed CNN has exactly 1,048,853 parameters in Keras names and shapes", "[models][seed_cnn]") {
  auto m = BuildSeedCnn({});
  REQUIRE(m.ok());
  const auto& layout = m.value()->layout();
  CHECK(layout.total_size() == 1048853);
  CHECK(layout.total_size() == kSeedCnnParams);
  CHECK(m.value()->params().size() == 1048853);
  CHECK(m.value()->grads().size() == 1048853);
  const std::vector<std::pair<std::string, std::vector<std::size_t>>> want = {
      {"conv2d_1/kernel", {3, 3, 1, 32}},  {"conv2d_1/bias", {32}},
      {"conv2d_2/kernel", {3, 3, 32, 32}}, {"conv2d_2/bias", {32}},
      {"dense_1/kernel", {4608, 225}},     {"dense_1/bias", {225}},
      {"dense_2/kernel", {225, 10}},       {"dense_2/bias", {10}}};
  REQUIRE(layout.num_tensors() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(layout.tensors()[i].name == want[i].first);
    CHECK(layout.tensors()[i].shape == want[i].second);
  }
}

TEST_CASE("The seed CNN summary reads like Keras'", "[models][seed_cnn]") {
  auto m = BuildSeedCnn({});
  REQUIRE(m.ok());
  const std::string s = m.value()->Summary();
  CHECK_THAT(s, Catch::Contains("conv2d_1 (Conv2D)") && Catch::Contains("(None, 26, 26, 32)"));
  CHECK_THAT(s, Catch::Contains("conv2d_2 (Conv2D)") && Catch::Contains("(None, 24, 24, 32)"));
  CHECK_THAT(s, Catch::Contains("max_pooling2d_1 (MaxPooling2D)") && Catch::Contains("(None, 12, 12, 32)"));
  CHECK_THAT(s, Catch::Contains("flatten_1 (Flatten)") && Catch::Contains("(None, 4608)"));
  CHECK_THAT(s, Catch::Contains("dense_1 (Dense)") && Catch::Contains("1,037,025"));
  CHECK_THAT(s, Catch::Contains("dense_2 (Dense)") && Catch::Contains("2,260"));
  CHECK_THAT(s, Catch::Contains("9,248"));
  CHECK_THAT(s, Catch::Contains("activation_4 (Activation)"));
  CHECK_THAT(s, Catch::Contains("Total params: 1,048,853"));
}

TEST_CASE("Initialisation is Glorot-uniform, zero biases, reproducible by seed", "[models][seed_cnn][init]") {
  auto a = BuildSeedCnn({.seed = 5});
  auto b = BuildSeedCnn({.seed = 5});
  auto c = BuildSeedCnn({.seed = 6});
  REQUIRE((a.ok() && b.ok() && c.ok()));
  auto pa = a.value()->params(), pb = b.value()->params(), pc = c.value()->params();
  CHECK(std::equal(pa.begin(), pa.end(), pb.begin()));
  CHECK_FALSE(std::equal(pa.begin(), pa.end(), pc.begin()));
  const auto& layout = a.value()->layout();
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const auto& t = layout.tensors()[i];
    auto w = pa.subspan(layout.offset(i), t.size());
    if (t.shape.size() == 1) {
      CHECK(std::all_of(w.begin(), w.end(), [](float v) { return v == 0.0f; }));
      continue;
    }
    std::size_t fan_in, fan_out;
    if (t.shape.size() == 4) {
      fan_in = t.shape[0] * t.shape[1] * t.shape[2];
      fan_out = t.shape[0] * t.shape[1] * t.shape[3];
    } else {
      fan_in = t.shape[0];
      fan_out = t.shape[1];
    }
    const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
    double max_abs = 0, sum_sq = 0;
    for (float v : w) {
      max_abs = std::max(max_abs, double{std::abs(v)});
      sum_sq += double{v} * v;
    }
    INFO(t.name);
    CHECK(max_abs <= limit);
    CHECK(max_abs > 0.9 * limit);
    // Uniform(-l, l) has variance l^2 / 3.
    CHECK(sum_sq / static_cast<double>(w.size()) == Approx(limit * limit / 3).epsilon(0.15));
  }
}

TEST_CASE("The seed CNN refuses images too small for it", "[models][seed_cnn]") {
  auto m = BuildSeedCnn({.height = 4, .width = 4});
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.status().message(), Catch::Contains("seed CNN"));
}

TEST_CASE("BLAS runs on one thread by default and the count is settable", "[models][blas]") {
  // BlasThreads() is oneDNN's count (OpenMP's); OpenBLAS, which Dense uses above
  // batch 32, keeps its own and must follow the same setting.
  // This executable never calls SetBlasThreads before its first SGEMM.
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr && std::getenv("OMP_NUM_THREADS") == nullptr) {
    auto m = BuildSeedCnn({});
    REQUIRE(m.ok());
    m.value()->Forward(std::vector<float>(784, 0.5f).data(), 1);
    CHECK(BlasThreads() == 1);
    CHECK(openblas_get_num_threads() == 1);
  }
  if (std::thread::hardware_concurrency() >= 2) {
    SetBlasThreads(2);
    CHECK(BlasThreads() == 2);
    CHECK(openblas_get_num_threads() == 2);
  }
  SetBlasThreads(0);  // clamped
  CHECK(BlasThreads() == 1);
  CHECK(openblas_get_num_threads() == 1);
}
