#include "asyncps/models/numpy_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "asyncps/models/csv_reader.h"
#include "asyncps/models/npy.h"
#include "asyncps/models/npz.h"

namespace asyncps::models {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Array `name` ("x_train", ...) of the data at `path`, named "path:name" in errors.
Result<NpyArray> ReadArray(const std::string& path, const std::string& name) {
  if (fs::is_directory(path)) {
    const std::string file = (fs::path(path) / (name + ".npy")).string();
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::IOError(file + ": cannot open it (the NumPy data needs " + name + ".npy)");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    Result<NpyArray> a = DecodeNpy(bytes.str(), file);
    if (a.ok()) a.value().name = name;
    return a;
  }
  Result<std::vector<NpyArray>> arrays = LoadNpz(path);
  if (!arrays.ok()) return arrays.status();
  for (NpyArray& a : arrays.value())
    if (a.name == name) return std::move(a);
  return Status::InvalidArgument(path + ": no array named " + name +
                                 " (expected x_train, y_train, x_test, y_test, as np.savez(path, x_train=...) writes)");
}

std::string Where(const std::string& path, const std::string& name) { return path + ":" + name; }

// The labels' classes: y's largest whole number + 1, or a one-hot row's width.
Result<std::size_t> ClassCount(const std::string& path, const NpyArray& y) {
  if (y.shape.size() == 2 && y.shape[1] > 1) return y.shape[1];
  float most = 0.0f;
  for (float v : y.data) most = std::max(most, v);
  if (most >= static_cast<float>(kMaxClasses))
    return Status::InvalidArgument(Where(path, y.name) + ": label " + std::to_string(most) + " is above " +
                                   std::to_string(kMaxClasses - 1) + " (at most " + std::to_string(kMaxClasses) +
                                   " classes)");
  return static_cast<std::size_t>(most) + 1;
}

// The samples of x (labels unset): (N, F) feature vectors, (N, H, W) or (N, H,
// W, C) images; uint8 divided by `divisor`; NaN or Inf refused.
Result<Dataset> Samples(const std::string& path, const NpyArray& xs, float divisor) {
  const std::string xw = xs.name.empty() ? path : Where(path, xs.name);
  Dataset d;
  if (xs.shape.size() == 2) {
    d.height = d.width = 1;
    d.channels = xs.shape[1];
  } else if (xs.shape.size() == 3 || xs.shape.size() == 4) {
    d.height = xs.shape[1];
    d.width = xs.shape[2];
    d.channels = xs.shape.size() == 4 ? xs.shape[3] : 1;
  } else {
    return Status::InvalidArgument(xw + ": shape of rank " + std::to_string(xs.shape.size()) +
                                   "; expected (N, features), (N, height, width) or (N, height, width, channels)");
  }
  if (xs.shape[0] == 0 || d.sample_size() == 0) return Status::InvalidArgument(xw + ": no samples");
  for (std::size_t i = 0; i < xs.data.size(); ++i)
    if (!std::isfinite(xs.data[i]))
      return Status::InvalidArgument(xw + ": sample " + std::to_string(i / d.sample_size()) + " holds " +
                                     std::to_string(xs.data[i]));
  d.images = xs.data;
  if (xs.dtype == "u1" && divisor != 1.0f)
    for (float& v : d.images) v /= divisor;
  return d;
}

}  // namespace

bool IsNumpyData(const std::string& path) {
  std::error_code ec;
  return EndsWith(path, ".npz") || fs::exists(fs::path(path) / "x_train.npy", ec);
}

Result<Dataset> LoadNumpyData(const NumpyDataOptions& o, Split split) {
  const std::string suffix = split == Split::kTrain ? "_train" : "_test";
  Result<NpyArray> x = ReadArray(o.path, "x" + suffix);
  if (!x.ok()) return x.status();
  Result<NpyArray> y = ReadArray(o.path, "y" + suffix);
  if (!y.ok()) return y.status();
  const NpyArray& xs = x.value();
  const NpyArray& ys = y.value();
  const std::string yw = Where(o.path, ys.name);
  Result<Dataset> samples = Samples(o.path, xs, o.divisor);
  if (!samples.ok()) return samples.status();
  Dataset& d = samples.value();
  const std::size_t n = xs.shape[0];
  const bool one_hot = ys.shape.size() == 2 && ys.shape[1] > 1;
  if (ys.shape.empty() || ys.shape[0] != n || ys.shape.size() > 2 ||
      (ys.shape.size() == 2 && !one_hot && ys.shape[1] != 1))
    return Status::InvalidArgument(yw + ": expected " + std::to_string(n) +
                                   " labels, shape (N,), (N, 1) or (N, classes)");
  const bool whole = std::all_of(ys.data.begin(), ys.data.end(), [](float v) { return std::floor(v) == v; });
  if (!whole && !one_hot) {  // regression targets
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(ys.data[i]))
        return Status::InvalidArgument(yw + ": target " + std::to_string(i) + " is " + std::to_string(ys.data[i]));
    d.targets = ys.data;
    d.num_classes = 1;
  } else {
    // The classes come from the training labels, for either split.
    Result<NpyArray> train_y = split == Split::kTrain ? y : ReadArray(o.path, "y_train");
    if (!train_y.ok()) return train_y.status();
    Result<std::size_t> classes = ClassCount(o.path, train_y.value());
    if (!classes.ok()) return classes.status();
    d.num_classes = classes.value();
    d.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      float label = ys.data[i];
      if (one_hot) {
        const float* row = ys.data.data() + i * ys.shape[1];
        const auto ones = std::count(row, row + ys.shape[1], 1.0f), zeros = std::count(row, row + ys.shape[1], 0.0f);
        if (ones != 1 || ones + zeros != static_cast<std::ptrdiff_t>(ys.shape[1]))
          return Status::InvalidArgument(yw + ": row " + std::to_string(i) + " is not one-hot (one 1, the rest 0)");
        label = static_cast<float>(std::find(row, row + ys.shape[1], 1.0f) - row);
      }
      if (!(label >= 0.0f) || label >= static_cast<float>(d.num_classes))
        return Status::InvalidArgument(yw + ": label " + std::to_string(i) + " is " + std::to_string(label) +
                                       ", not a class in [0, " + std::to_string(d.num_classes) +
                                       ") (the classes of y_train)");
      d.labels[i] = static_cast<std::uint8_t>(label);
    }
    if (split == Split::kTrain && d.num_classes < 2)
      return Status::InvalidArgument(yw + ": every label is 0: a classifier needs at least two classes");
  }
  if (o.limit > 0) d = Head(d, o.limit);
  return Partition(d, o.worker, o.num_workers);
}

Result<Dataset> LoadNumpySamples(const std::string& path, float divisor) {
  Result<NpyArray> x = Status::Internal("unset");
  if (EndsWith(path, ".npy")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::IOError(path + ": cannot open it; check the path");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    x = DecodeNpy(bytes.str(), path);
  } else {
    x = ReadArray(path, "x_test");
  }
  if (!x.ok()) return x.status();
  Result<Dataset> d = Samples(path, x.value(), divisor);
  if (d.ok()) d.value().unlabelled = true;
  return d;
}

}  // namespace asyncps::models
