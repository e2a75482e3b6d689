// The seed CNN's loss and every parameter gradient agree with PyTorch 1.13 on
// the same weights and batch (exchanged as .npz; see torch_reference.py).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "asyncps/models/dataset.h"
#include "asyncps/models/npz.h"
#include "asyncps/models/seed_cnn.h"
#include "python.h"
#include "test_util.h"
#include "support/skip.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {
// 16 Fashion-MNIST images when installed, else uniform noise.
void MakeBatch(std::size_t batch, std::vector<float>& x, std::vector<float>& y) {
  x.assign(batch * 784, 0.0f);
  std::vector<std::uint8_t> labels(batch);
  auto data = LoadMnist({.limit = batch}, Split::kTrain);
  if (data.ok()) {
    std::copy(data.value().images.begin(), data.value().images.end(), x.begin());
    labels = data.value().labels;
  } else {
    x = RandomVector(batch * 784, 5, 0.0f, 1.0f);
    for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  }
  y.assign(batch * 10, 0.0f);
  OneHot(labels.data(), batch, 10, y.data());
}
}  // namespace

TEST_CASE("Seed CNN loss and gradients agree with PyTorch to 1e-4", "[models][torch][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("numpy, torch"),
                                  std::string(Python()) + " lacks torch or numpy (apt install python3-torch)");
  TempDir dir("torch");
  const std::size_t batch = 16;
  for (std::uint64_t seed : {3u, 4u}) {
    auto m = BuildSeedCnn({.seed = seed});
    REQUIRE(m.ok());
    Sequential& model = *m.value();
    const auto& layout = model.layout();
    std::vector<float> x, y;
    MakeBatch(batch, x, y);
    // Non-zero biases so that their gradients flow through a realistic model.
    for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
      if (layout.tensors()[i].shape.size() != 1) continue;
      auto b = RandomVector(layout.tensors()[i].size(), seed + i, -0.05f, 0.05f);
      std::copy(b.begin(), b.end(), model.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
    }
    std::vector<NpyView> in;
    for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
      const auto& t = layout.tensors()[i];
      in.push_back({t.name, t.shape, model.params().subspan(layout.offset(i), t.size())});
    }
    in.push_back({"x", {batch, 28, 28, 1}, x});
    in.push_back({"y", {batch, 10}, y});
    REQUIRE(SaveNpz(dir.file("in.npz"), in).ok());
    const std::string script = std::string(ASYNCPS_SOURCE_DIR) + "/tests/models/torch_reference.py";
    REQUIRE(Run(std::string(Python()) + " " + script + " " + dir.file("in.npz") + " " + dir.file("out.npz")) == 0);
    auto ref = LoadNpz(dir.file("out.npz"));
    REQUIRE(ref.ok());

    const double loss = model.ComputeGradients(x.data(), y.data(), batch);
    std::size_t compared = 0;
    for (const NpyArray& r : ref.value()) {
      if (r.name == "loss") {
        INFO("torch loss " << r.data[0] << ", ours " << loss);
        CHECK(std::abs(loss - r.data[0]) / std::abs(r.data[0]) < 1e-4);
        ++compared;
        continue;
      }
      for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
        if (layout.tensors()[i].name != r.name) continue;
        REQUIRE(r.shape == layout.tensors()[i].shape);
        const double err = MaxRelError(model.grads().data() + layout.offset(i), r.data.data(), r.data.size());
        INFO(r.name << ": max |ours - torch| / max |torch| = " << err);
        CHECK(err < 1e-4);
        ++compared;
      }
    }
    CHECK(compared == layout.num_tensors() + 1);
  }
}
