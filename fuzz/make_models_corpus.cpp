// Writes the Keras fuzz targets' seeds from the test models of
// tests/models/keras_json.h: DIR/keras_json/*.json (LeNet-5, the strided CNN,
// an MLP and a tiny MLP, in both JSON forms Keras wrote), and for
// keras_h5_fuzzer the tiny MLP's JSON and initial weights (DIR/keras_h5-src/),
// which make_models_corpus.sh turns into .h5 files with h5py.
// Usage: asyncps-fuzz-models-corpus DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "asyncps/models/keras_model.h"
#include "asyncps/models/weights.h"
#include "keras_json.h"

namespace {

using namespace asyncps::models;
using namespace asyncps::models::testing;

bool WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::fprintf(stderr, "asyncps-fuzz-models-corpus: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// 8 features, Dense(4, relu), Dense(3, softmax): 51 parameters, a small .h5.
json TinyMlpJson(KerasForm f) {
  return KerasModelJson({KDense(KName("dense", 1, f), 4, "relu"), KDense(KName("dense", 2, f), 3, "softmax")}, {8}, f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR   (writes DIR/keras_json/* and DIR/keras_h5-src/*)\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir / "keras_json", ec);
  if (!ec) std::filesystem::create_directories(dir / "keras_h5-src", ec);
  if (ec) {
    std::fprintf(stderr, "asyncps-fuzz-models-corpus: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  bool ok = true;
  for (KerasForm f : {KerasForm::kKeras22, KerasForm::kTfKeras}) {
    const std::string form = f == KerasForm::kKeras22 ? "keras22" : "tfkeras";
    ok &= WriteText(dir / "keras_json" / ("lenet-" + form + ".json"), LeNetJson(f).dump());
    ok &= WriteText(dir / "keras_json" / ("strided-" + form + ".json"), StridedCnnJson(f).dump());
    ok &= WriteText(dir / "keras_json" / ("mlp-" + form + ".json"), MlpJson(f).dump());
    ok &= WriteText(dir / "keras_json" / ("tiny-" + form + ".json"), TinyMlpJson(f).dump());
    // The h5 fixture's inputs: the architecture and its initial weights in get_weights() order.
    const std::string text = TinyMlpJson(f).dump();
    ok &= WriteText(dir / "keras_h5-src" / ("tiny-" + form + ".json"), text);
    auto model = BuildKerasModel(text, "tiny-" + form + ".json", /*seed=*/1);
    if (!model.ok()) {
      std::fprintf(stderr, "asyncps-fuzz-models-corpus: %s\n", model.status().message().c_str());
      return 1;
    }
    const std::string npz = (dir / "keras_h5-src" / ("tiny-" + form + ".npz")).string();
    if (asyncps::Status st = SaveWeights(npz, model.value()->layout(), model.value()->params()); !st.ok()) {
      std::fprintf(stderr, "asyncps-fuzz-models-corpus: %s\n", st.message().c_str());
      return 1;
    }
  }
  return ok ? 0 : 1;
}
