// NumPy data (x_train, y_train, x_test, y_test) in a .npz or a folder of .npy
// files: the dtypes numpy writes, images and feature vectors, class indices,
// one-hot rows and regression targets, and the refusals; .npy headers that lie.
#include "asyncps/models/numpy_data.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>

#include "asyncps/models/npy.h"
#include "asyncps/models/npz.h"
#include "asyncps/models/weights.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::Result;

namespace {

// A .npy file of `values` stored as `descr` ("|u1", "<i8", "<f4", ...) with `shape`.
template <typename T>
std::string Npy(const std::string& descr, const std::vector<T>& values, const std::string& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return out;
}

void Write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST_CASE("a folder of .npy files: uint8 images are pixels, int64 labels the classes", "[models][numpy]") {
  TempDir dir("numpy-folder");
  // 4 training images of 2x2 pixels, labels 0..2; 2 test images.
  std::vector<std::uint8_t> x_train = {0, 255, 51, 102, 255, 255, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  Write(dir.file("x_train.npy"), Npy("|u1", x_train, "(4, 2, 2)"));
  Write(dir.file("y_train.npy"), Npy<std::int64_t>("<i8", {0, 2, 1, 2}, "(4,)"));
  Write(dir.file("x_test.npy"), Npy<std::uint8_t>("|u1", {0, 0, 0, 255, 255, 0, 0, 0}, "(2, 2, 2)"));
  Write(dir.file("y_test.npy"), Npy<std::int32_t>("<i4", {1, 2}, "(2,)"));
  CHECK(IsNumpyData(dir.path().string()));
  Result<Dataset> train = LoadNumpyData({.path = dir.path().string()}, Split::kTrain);
  REQUIRE(train.ok());
  CHECK(train.value().height == 2);
  CHECK(train.value().width == 2);
  CHECK(train.value().channels == 1);
  CHECK(train.value().num_classes == 3);
  CHECK(train.value().labels == std::vector<std::uint8_t>{0, 2, 1, 2});
  CHECK(train.value().images[1] == 1.0f);
  CHECK(train.value().images[2] == Approx(0.2f));
  Result<Dataset> test = LoadNumpyData({.path = dir.path().string()}, Split::kTest);
  REQUIRE(test.ok());
  CHECK(test.value().num_classes == 3);  // the training labels' classes
  // --train-limit first (labels 0, 2, 1), then worker 1 of 2's block [1, 3).
  Result<Dataset> share =
      LoadNumpyData({.path = dir.path().string(), .limit = 3, .worker = 1, .num_workers = 2}, Split::kTrain);
  REQUIRE(share.ok());
  CHECK(share.value().labels == std::vector<std::uint8_t>{2, 1});
  // A test label beyond the training classes.
  Write(dir.file("y_test.npy"), Npy<std::int32_t>("<i4", {1, 3}, "(2,)"));
  Result<Dataset> bad = LoadNumpyData({.path = dir.path().string()}, Split::kTest);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() ==
        dir.path().string() + ":y_test: label 1 is 3.000000, not a class in [0, 3) (the classes of y_train)");
}

TEST_CASE("a .npz of feature vectors: one-hot labels, regression targets, refusals", "[models][numpy]") {
  TempDir dir("numpy-npz");
  const std::vector<float> x = {0.5f, -1, 2, 3, 1e-3f, 7, -2, 0, 1, 1, 1, 1};  // 4 samples of 3 features
  const std::vector<float> one_hot = {0, 1, 1, 0, 0, 1, 1, 0};
  const std::string path = dir.file("data.npz");
  auto save = [&](const std::vector<float>& y, const std::vector<std::size_t>& y_shape) {
    REQUIRE(
        SaveNpz(path, {{"x_train", {4, 3}, x}, {"y_train", y_shape, y}, {"x_test", {4, 3}, x}, {"y_test", y_shape, y}})
            .ok());
  };
  save(one_hot, {4, 2});
  Result<Dataset> d = LoadNumpyData({.path = path}, Split::kTrain);
  REQUIRE(d.ok());
  CHECK(d.value().channels == 3);
  CHECK(d.value().height == 1);
  CHECK(d.value().num_classes == 2);
  CHECK(d.value().labels == std::vector<std::uint8_t>{1, 0, 1, 0});
  CHECK(d.value().images == x);  // float32: as written, no divisor

  save({0.25f, 1.5f, -3, 2}, {4});  // not whole numbers: regression
  d = LoadNumpyData({.path = path}, Split::kTrain);
  REQUIRE(d.ok());
  CHECK(d.value().regression());
  CHECK(d.value().targets == std::vector<float>{0.25f, 1.5f, -3, 2});

  save({0, 1, 1, 0, 0, 1, 0.5f, 0}, {4, 2});
  CHECK(LoadNumpyData({.path = path}, Split::kTrain).status().message() ==
        path + ":y_train: row 3 is not one-hot (one 1, the rest 0)");
  save({0, 0, 0, 0}, {4});
  CHECK(LoadNumpyData({.path = path}, Split::kTrain).status().message() ==
        path + ":y_train: every label is 0: a classifier needs at least two classes");
  save({0, 1, 0}, {3});
  CHECK(LoadNumpyData({.path = path}, Split::kTrain)
            .status()
            .message()
            .find("y_train: expected 4 labels, shape (N,), (N, 1) or (N, classes)") != std::string::npos);
  REQUIRE(SaveNpz(path, {{"x_train", {4, 3}, x}}).ok());
  CHECK(LoadNumpyData({.path = path}, Split::kTrain).status().message().find("no array named y_train") !=
        std::string::npos);
  CHECK(!IsNumpyData(dir.path().string()));
}

TEST_CASE(".npy headers that lie are refused: dtype, byte order, shape and size", "[models][numpy]") {
  CHECK(DecodeNpy(Npy<float>(">f4", {1.0f}, "(1,)"), "a").status().message().find("dtype '>f4' is not supported") !=
        std::string::npos);
  CHECK(!DecodeNpy(Npy<std::uint8_t>("<u1", {1}, "(1,)"), "a").ok());  // one byte: '|', not '<'
  CHECK(DecodeNpy(Npy<float>("<f4", {1.0f}, "(18446744073709551615,)"), "a").status().message().find("too large") !=
        std::string::npos);
  CHECK(DecodeNpy(Npy<float>("<f4", {1.0f}, "(4611686018427387904, 4)"), "a").status().message().find("too large") !=
        std::string::npos);
  CHECK(!DecodeNpy(Npy<float>("<f4", {1.0f, 2.0f}, "(3,)"), "a").ok());
  Result<NpyArray> ids = DecodeNpy(Npy<std::int64_t>("<i8", {-3, 70000}, "(2,)"), "a");
  REQUIRE(ids.ok());
  CHECK(ids.value().dtype == "i8");
  CHECK(ids.value().data == std::vector<float>{-3.0f, 70000.0f});
  Result<NpyArray> flags = DecodeNpy(Npy<std::uint8_t>("|b1", {1, 0}, "(2,)"), "a");
  REQUIRE(flags.ok());
  CHECK(flags.value().data == std::vector<float>{1.0f, 0.0f});
}

TEST_CASE("samples to predict on: a .npy of x, or x_test of a folder without its y arrays", "[models][numpy]") {
  TempDir dir("numpy-samples");
  Write(dir.file("x.npy"), Npy("<f4", std::vector<float>{1.5f, -2, 3, 4, 5, 6}, "(3, 2)"));
  Result<Dataset> x = LoadNumpySamples(dir.file("x.npy"));
  REQUIRE(x.ok());
  CHECK(x.value().unlabelled);
  CHECK(x.value().size() == 3);
  CHECK(x.value().channels == 2);
  CHECK(x.value().image(0)[0] == 1.5f);
  Write(dir.file("x_test.npy"), Npy("|u1", std::vector<std::uint8_t>{0, 255, 51, 102}, "(1, 2, 2)"));
  Result<Dataset> folder = LoadNumpySamples(dir.path().string(), 255.0f);
  REQUIRE(folder.ok());
  CHECK(folder.value().size() == 1);
  CHECK(folder.value().image(0)[1] == Approx(1.0f));
  Write(dir.file("bad.npy"), Npy("<f4", std::vector<float>{1, 2}, "(2,)"));
  CHECK_THAT(LoadNumpySamples(dir.file("bad.npy")).status().message(), Catch::Contains("bad.npy: shape of rank 1"));
  CHECK(LoadNumpySamples(dir.file("none.npy")).status().code() == asyncps::Status::Code::kIOError);
}
