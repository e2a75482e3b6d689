#include "asyncps/models/npz.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "python.h"
#include "test_util.h"
#include "support/skip.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

TEST_CASE("npz round-trips named arrays of any rank", "[models][npz]") {
  TempDir dir("npz-rt");
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}, s = {7};
  REQUIRE(SaveNpz(dir.file("x.npz"), {{"conv2d_1/kernel", {1, 2, 3}, a}, {"scalar", {}, s}, {"v", {6}, a}}).ok());
  auto r = LoadNpz(dir.file("x.npz"));
  REQUIRE(r.ok());
  REQUIRE(r.value().size() == 3);
  CHECK(r.value()[0].name == "conv2d_1/kernel");
  CHECK(r.value()[0].shape == std::vector<std::size_t>{1, 2, 3});
  CHECK(r.value()[0].data == a);
  CHECK(r.value()[1].shape.empty());
  CHECK(r.value()[1].data == s);
  CHECK(r.value()[2].shape == std::vector<std::size_t>{6});
}

TEST_CASE("numpy reads our npz, and we read numpy's savez and savez_compressed", "[models][npz][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("numpy"),
                                  std::string(Python()) + " lacks numpy (apt install python3-numpy)");
  TempDir dir("npz-numpy");
  const std::vector<float> a = {1.5f, -2, 3, 4, 5, 6};
  REQUIRE(SaveNpz(dir.file("ours.npz"), {{"dense_1/kernel", {2, 3}, a}, {"dense_1/bias", {3}, {a.data(), 3}}}).ok());
  const std::string check =
      "import numpy as np, sys\n"
      "w = np.load(sys.argv[1])\n"
      "assert sorted(w.files) == ['dense_1/bias', 'dense_1/kernel'], w.files\n"
      "k = w['dense_1/kernel']\n"
      "assert k.dtype == np.float32 and k.shape == (2, 3), (k.dtype, k.shape)\n"
      "assert k[0, 0] == 1.5 and k[1, 2] == 6 and w['dense_1/bias'].shape == (3,)\n"
      "x = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
      "np.savez(sys.argv[2], first=x, second=np.float64(2.5) * np.ones((2,)))\n"
      "np.savez_compressed(sys.argv[3], first=x)\n";
  {
    std::ofstream f(dir.file("check.py"));
    f << check;
  }
  REQUIRE(Run(std::string(Python()) + " " + dir.file("check.py") + " " + dir.file("ours.npz") + " " +
              dir.file("theirs.npz") + " " + dir.file("packed.npz")) == 0);
  for (const char* name : {"theirs.npz", "packed.npz"}) {
    INFO(name);
    auto r = LoadNpz(dir.file(name));
    REQUIRE(r.ok());
    REQUIRE(r.value()[0].name == "first");
    CHECK(r.value()[0].shape == std::vector<std::size_t>{3, 4});
    CHECK(r.value()[0].data[11] == 11.0f);
  }
  auto theirs = LoadNpz(dir.file("theirs.npz"));
  REQUIRE(theirs.value().size() == 2);
  CHECK(theirs.value()[1].data == std::vector<float>{2.5f, 2.5f});  // float64 converted
}

TEST_CASE("LoadNpz names the file on garbage and missing files", "[models][npz]") {
  TempDir dir("npz-bad");
  {
    std::ofstream f(dir.file("junk.npz"));
    f << std::string(100, 'x');
  }
  auto junk = LoadNpz(dir.file("junk.npz"));
  REQUIRE_FALSE(junk.ok());
  CHECK_THAT(junk.status().message(), Catch::Contains("junk.npz") && Catch::Contains("not a zip"));
  auto missing = LoadNpz(dir.file("none.npz"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == asyncps::Status::Code::kIOError);
  // A truncated archive.
  const std::vector<float> a(100, 1.0f);
  REQUIRE(SaveNpz(dir.file("full.npz"), {{"a", {100}, a}}).ok());
  std::ifstream in(dir.file("full.npz"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream f(dir.file("cut.npz"), std::ios::binary);
    f << bytes.substr(0, bytes.size() - 40);
  }
  CHECK_FALSE(LoadNpz(dir.file("cut.npz")).ok());
}

TEST_CASE("DecodeNpy rejects unsupported dtypes and Fortran order", "[models][npz]") {
  std::string npy = EncodeNpy(std::vector<float>{1, 2}, {2});
  std::string c8 = npy;  // complex numbers: no float for them
  c8.replace(c8.find("<f4"), 3, "<c8");
  auto r = DecodeNpy(c8, "x.npy");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("x.npy") && Catch::Contains("'<c8'"));
  std::string fo = npy;
  fo.replace(fo.find("False"), 5, "True ");
  CHECK_FALSE(DecodeNpy(fo, "y.npy").ok());
  CHECK(npy.size() % 64 == 8 % 64);  // 64-byte aligned header + 8 bytes of data
}
