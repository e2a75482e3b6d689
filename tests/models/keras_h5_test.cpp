// Keras HDF5 files (written by h5py in Keras' layout, keras_h5_fixture.py):
// model.save() files as --model, model.save_weights() files as initial
// weights, and damaged or mismatched files refused by name.
#include "asyncps/models/keras_h5.h"

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <fstream>

#include "asyncps/models/keras_model.h"
#include "asyncps/models/npz.h"
#include "keras_json.h"
#include "python.h"
#include "test_util.h"
#include "support/skip.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

// The model's weights in get_weights() order, random, as arr_0, arr_1, ...
std::vector<std::vector<float>> WriteRandomWeights(const Sequential& m, const std::string& path) {
  const auto& layout = m.layout();
  std::vector<std::vector<float>> arrays;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    arrays.push_back(RandomVector(layout.tensors()[i].size(), 50 + i));
  std::vector<NpyView> views;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    views.push_back({"arr_" + std::to_string(i), layout.tensors()[i].shape, arrays[i]});
  REQUIRE(SaveNpz(path, views).ok());
  return arrays;
}

int Fixture(const std::string& model, const std::string& weights, const std::string& out,
            const std::string& extra = "") {
  const std::string script = std::string(ASYNCPS_SOURCE_DIR) + "/tests/models/keras_h5_fixture.py";
  return Run(std::string(Python()) + " " + script + " " + model + " " + weights + " " + out + " " + extra);
}

bool SameWeights(const Sequential& m, const std::vector<std::vector<float>>& arrays) {
  const auto& layout = m.layout();
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    if (!std::equal(arrays[i].begin(), arrays[i].end(),
                    m.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i))))
      return false;
  return true;
}

}  // namespace

TEST_CASE("A Keras model.save() file gives the architecture and its weights, in both Keras forms",
          "[models][keras][h5][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("h5py, numpy"),
                                  std::string(Python()) + " lacks h5py (apt install python3-h5py)");
  TempDir dir("keras-h5");
  for (KerasForm f : {KerasForm::kKeras22, KerasForm::kTfKeras}) {
    INFO((f == KerasForm::kKeras22 ? "Keras 2.2" : "tf.keras"));
    const std::string json_path = dir.file("strided.json");
    std::ofstream(json_path) << StridedCnnJson(f).dump();
    auto fresh = LoadKerasModel(json_path, 1);
    REQUIRE(fresh.ok());
    const auto arrays = WriteRandomWeights(*fresh.value(), dir.file("w.npz"));
    REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("m.h5")) == 0);
    auto m = LoadKerasModel(dir.file("m.h5"), 1);
    REQUIRE(m.ok());
    CHECK(m.value()->num_params() == 24170);
    CHECK(SameWeights(*m.value(), arrays));
    CHECK_THAT(m.value()->Summary(), Catch::Contains(KName("average_pooling2d", 1, f) + " (AveragePooling2D)"));

    // Weights alone (model.save_weights) onto the architecture from JSON.
    REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("w.h5"), "--weights-only") == 0);
    CHECK_FALSE(SameWeights(*fresh.value(), arrays));
    REQUIRE(LoadInitialWeights(dir.file("w.h5"), *fresh.value()).ok());
    CHECK(SameWeights(*fresh.value(), arrays));
    auto as_model = LoadKerasModel(dir.file("w.h5"), 1);
    REQUIRE_FALSE(as_model.ok());
    CHECK_THAT(as_model.status().message(), Catch::Contains("weights only") && Catch::Contains("--initial-weights"));
  }
}

TEST_CASE("Damaged or mismatched Keras HDF5 files are refused, naming the file, layer and weight",
          "[models][keras][h5][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("h5py, numpy"),
                                  std::string(Python()) + " lacks h5py (apt install python3-h5py)");
  TempDir dir("keras-h5-bad");
  const std::string json_path = dir.file("lenet.json");
  std::ofstream(json_path) << LeNetJson(KerasForm::kTfKeras).dump();
  auto m = LoadKerasModel(json_path, 1);
  REQUIRE(m.ok());
  WriteRandomWeights(*m.value(), dir.file("w.npz"));

  REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("dropped.h5"), "--drop dense_1/bias:0") == 0);
  auto dropped = LoadKerasModel(dir.file("dropped.h5"), 1);
  REQUIRE_FALSE(dropped.ok());
  CHECK_THAT(dropped.status().message(), Catch::Contains("dropped.h5") && Catch::Contains("'dense_1'") &&
                                             Catch::Contains("dense_1/bias:0") && Catch::Contains("missing"));

  REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("reshaped.h5"), "--reshape conv2d_1/kernel:0") == 0);
  auto reshaped = LoadKerasModel(dir.file("reshaped.h5"), 1);
  REQUIRE_FALSE(reshaped.ok());
  CHECK_THAT(reshaped.status().message(),
             Catch::Contains("conv2d_1/kernel:0") && Catch::Contains("[2400]") && Catch::Contains("[5,5,6,16]"));

  // LeNet's weights onto another model.
  const std::string other = dir.file("mlp.json");
  std::ofstream(other) << MlpJson(KerasForm::kTfKeras).dump();
  auto mlp = LoadKerasModel(other, 1);
  REQUIRE(mlp.ok());
  REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("lenet-w.h5"), "--weights-only") == 0);
  const auto st = LoadInitialWeights(dir.file("lenet-w.h5"), *mlp.value());
  CHECK_THAT(st.message(), Catch::Contains("lenet-w.h5") && Catch::Contains("5 layers with weights") &&
                               Catch::Contains("the model has 2"));

  std::ofstream(dir.file("not.h5")) << "not an HDF5 file";
  auto junk = LoadKerasModel(dir.file("not.h5"), 1);
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().code() == asyncps::Status::Code::kIOError);
  CHECK_THAT(junk.status().message(), Catch::Contains("not.h5"));
}

TEST_CASE("A hostile Keras .h5 reads nothing outside the file and allocates nothing it claims",
          "[models][keras][h5][python][hostile]") {
  asyncps::testing::RequireOrSkip(PythonHas("h5py, numpy"),
                                  std::string(Python()) + " lacks h5py (apt install python3-h5py)");
  TempDir dir("keras-h5-hostile");
  const std::string json_path = dir.file("lenet.json");
  std::ofstream(json_path) << LeNetJson(KerasForm::kTfKeras).dump();
  auto m = LoadKerasModel(json_path, 1);
  REQUIRE(m.ok());
  WriteRandomWeights(*m.value(), dir.file("w.npz"));
  // A "secret" the attacker wants in the weights (as /proc/self/environ would be).
  const std::string secret = dir.file("secret");
  {
    std::ofstream out(secret);
    for (int i = 0; i < 4096; ++i) out << "ASYNCPS_CLIENT_CURVE_SECRET_KEY=abcdefgh;";
  }
  const std::vector<std::pair<std::string, std::string>> cases = {{"external-storage", "external files"},
                                                                  {"external-link", "external or soft link"},
                                                                  {"soft-link", "external or soft link"},
                                                                  {"virtual", "virtual"},
                                                                  {"huge", "[1048576,1048576]"},
                                                                  {"unwritten", "never"},
                                                                  {"lzf", "filter 32000"}};
  for (const auto& [kind, says] : cases) {
    INFO(kind);
    const std::string h5 = dir.file(kind + ".h5");
    REQUIRE(Fixture(json_path, dir.file("w.npz"), h5, "--hostile " + kind + " --secret " + secret) == 0);
    auto model = LoadKerasModel(h5, 1);
    REQUIRE_FALSE(model.ok());
    CHECK_THAT(model.status().message(),
               Catch::Contains(kind + ".h5") && Catch::Contains("conv2d/kernel:0") && Catch::Contains(says));
    auto weights = LoadInitialWeights(h5, *m.value());
    CHECK_FALSE(weights.ok());
  }
  // A FIFO where the model should be: refused at once, not read forever.
  const std::string fifo = dir.file("fifo.h5");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = LoadKerasModel(fifo, 1);
  REQUIRE_FALSE(from_fifo.ok());
  CHECK_THAT(from_fifo.status().message(), Catch::Contains("not a regular file"));
}

TEST_CASE("A file on which libhdf5 itself crashes or loops is refused by name, and the caller goes on",
          "[models][keras][h5]") {
  // fuzz/findings: files found by keras_h5_fuzzer on which Debian's libhdf5
  // 1.10 overflows a buffer (a segfault outside ASan) or loops for minutes.
  TempDir dir("keras-h5-libhdf5");
  for (const std::string name : {"keras_h5-libhdf5-global-heap-overflow", "keras_h5-libhdf5-global-heap-loop"}) {
    INFO(name);
    const std::string h5 = dir.file(name + ".h5");
    std::ifstream in(std::string(ASYNCPS_SOURCE_DIR) + "/fuzz/findings/" + name, std::ios::binary);
    REQUIRE(in);
    std::ofstream(h5, std::ios::binary) << in.rdbuf();
    auto model = LoadKerasModel(h5, 1, kMaxParameters, std::chrono::milliseconds(2000));
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().code() == asyncps::Status::Code::kInvalidArgument);
    CHECK_THAT(model.status().message(),
               Catch::StartsWith(h5) &&
                   (Catch::Contains("signal") || Catch::Contains("still running after 2.0 s and was stopped")));
  }
}

TEST_CASE("Weights written as a Keras .h5 read back here and with h5py in model.load_weights' layout",
          "[models][keras][h5][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("h5py, numpy"),
                                  std::string(Python()) + " lacks h5py (apt install python3-h5py)");
  TempDir dir("keras-h5-write");
  const std::string json_path = dir.file("strided.json");
  std::ofstream(json_path) << StridedCnnJson(KerasForm::kTfKeras).dump();
  // Start from a model.save() fixture, write what training would, read it back.
  auto fresh = LoadKerasModel(json_path, 4);
  REQUIRE(fresh.ok());
  const auto arrays = WriteRandomWeights(*fresh.value(), dir.file("w.npz"));
  REQUIRE(Fixture(json_path, dir.file("w.npz"), dir.file("m.h5")) == 0);
  auto m = LoadKerasModel(dir.file("m.h5"), 1);
  REQUIRE(m.ok());
  REQUIRE(SaveFinalWeights(dir.file("out.h5"), *m.value()).ok());
  auto back = LoadKerasModel(json_path, 9);
  REQUIRE(back.ok());
  REQUIRE(LoadInitialWeights(dir.file("out.h5"), *back.value()).ok());
  CHECK(SameWeights(*back.value(), arrays));
  // h5py sees what Keras' load_weights reads: layer_names, weight_names, datasets.
  const std::string check =
      std::string(Python()) +
      " -c \"import h5py, numpy as np, sys\n"
      "f = h5py.File(sys.argv[1], 'r'); w = np.load(sys.argv[2]); want = [w[k] for k in w.files]\n"
      "names = [n.decode() for n in f.attrs['layer_names']]\n"
      "assert names == ['conv2d', 'conv2d_1', 'dense', 'dense_1'], names\n"
      "got = [f[n][wn.decode()][()] for n in names for wn in f[n].attrs['weight_names']]\n"
      "assert [g.shape for g in got] == [a.shape for a in want]\n"
      "assert all(np.array_equal(g, a) and g.dtype == np.float32 for g, a in zip(got, want))\n"
      "assert f.attrs['backend'] == b'tensorflow'\" " +
      dir.file("out.h5") + " " + dir.file("w.npz");
  CHECK(Run(check) == 0);
  CHECK_FALSE(SaveFinalWeights(dir.file("no-such-dir/out.h5"), *m.value()).ok());
}
