#include "asyncps/models/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "asyncps/models/idx_reader.h"
#include "asyncps/models/tensor.h"

namespace asyncps::models {

namespace {
// "<dir>/<base>.gz" if it exists, else "<dir>/<base>", else "".
std::string FindFile(const std::string& dir, const std::string& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& name : {base + ".gz", base}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}
}  // namespace

Result<Dataset> MakeDataset(std::size_t height, std::size_t width, std::size_t channels, std::size_t num_classes,
                            const std::vector<std::uint8_t>& pixels, std::vector<std::uint8_t> labels, float divisor) {
  const std::size_t per = height * width * channels;
  if (per == 0 || pixels.size() != labels.size() * per) {
    return Status::InvalidArgument(std::to_string(pixels.size()) + " pixels do not make " +
                                   std::to_string(labels.size()) + " images of " + std::to_string(height) + "x" +
                                   std::to_string(width) + "x" + std::to_string(channels));
  }
  if (!(divisor > 0.0f)) return Status::InvalidArgument("normalisation divisor must be > 0");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return Status::InvalidArgument("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                                     " is outside [0, " + std::to_string(num_classes) + ")");
    }
  }
  Dataset d;
  d.height = height;
  d.width = width;
  d.channels = channels;
  d.num_classes = num_classes;
  d.images.resize(pixels.size());
  const float inv = 1.0f / divisor;
  const auto px = xt::adapt(pixels.data(), pixels.size(), xt::no_ownership(), TensorShape<1>{pixels.size()});
  auto images = Map(d.images.data(), d.images.size());
  xt::noalias(images) = xt::cast<float>(px) * inv;
  d.labels = std::move(labels);
  return d;
}

Result<MnistFiles> FindMnistFiles(const std::string& dir, Split split) {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string img_base = prefix + "-images-idx3-ubyte";
  const std::string lab_base = prefix + "-labels-idx1-ubyte";
  MnistFiles files{FindFile(dir, img_base), FindFile(dir, lab_base)};
  if (files.images.empty() || files.labels.empty()) {
    return Status::IOError("data directory '" + dir + "' lacks " + (files.images.empty() ? img_base : lab_base) +
                           "[.gz]: point --data at a directory holding the MNIST-format files "
                           "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...), or "
                           "install Debian's dataset-fashion-mnist");
  }
  for (const std::string& path : {files.images, files.labels}) {
    if (!std::ifstream(path)) return Status::IOError(path + ": cannot be opened for reading; check its permissions");
  }
  return files;
}

Result<Dataset> LoadMnist(const MnistOptions& o, Split split) {
  Result<MnistFiles> files = FindMnistFiles(o.dir, split);
  if (!files.ok()) return files.status();
  const std::string& img_path = files.value().images;
  const std::string& lab_path = files.value().labels;
  if (o.num_workers == 0 || o.worker >= o.num_workers) {
    return Status::InvalidArgument("LoadMnist: worker " + std::to_string(o.worker) + " of " +
                                   std::to_string(o.num_workers) +
                                   " workers; need num_workers >= 1 and worker < num_workers");
  }
  Result<IdxArray> images = ReadIdx(img_path, 3);
  if (!images.ok()) return images.status();
  Result<IdxArray> labels = ReadIdx(lab_path, 1);
  if (!labels.ok()) return labels.status();
  IdxArray& im = images.value();
  IdxArray& lb = labels.value();
  if (im.dims[0] != lb.dims[0]) {
    return Status::InvalidArgument(img_path + " holds " + std::to_string(im.dims[0]) + " images but " + lab_path +
                                   " holds " + std::to_string(lb.dims[0]) +
                                   " labels; the files do not belong together");
  }
  std::size_t n = im.dims[0];
  if (o.limit != 0 && o.limit < n) n = o.limit;
  // The same contiguous block as Partition().
  const std::size_t begin = o.worker * n / o.num_workers, end = (o.worker + 1) * n / o.num_workers;
  const std::size_t per = im.dims[1] * im.dims[2];
  if (begin != 0 || end != im.dims[0]) {
    im.data.erase(im.data.begin() + static_cast<std::ptrdiff_t>(end * per), im.data.end());
    im.data.erase(im.data.begin(), im.data.begin() + static_cast<std::ptrdiff_t>(begin * per));
    lb.data.erase(lb.data.begin() + static_cast<std::ptrdiff_t>(end), lb.data.end());
    lb.data.erase(lb.data.begin(), lb.data.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  Result<Dataset> d = MakeDataset(im.dims[1], im.dims[2], 1, o.num_classes, im.data, std::move(lb.data), o.divisor);
  if (!d.ok()) return Status::InvalidArgument(img_path + ": " + d.status().message());
  return d;
}

std::pair<std::size_t, std::size_t> PartitionBounds(std::size_t n, std::size_t worker, std::size_t num_workers) {
  return {worker * n / num_workers, (worker + 1) * n / num_workers};
}

Result<Dataset> Partition(const Dataset& data, std::size_t worker, std::size_t num_workers) {
  if (num_workers == 0 || worker >= num_workers) {
    return Status::InvalidArgument("partition: worker " + std::to_string(worker) + " of " +
                                   std::to_string(num_workers) +
                                   " workers; need num_workers >= 1 and worker < num_workers");
  }
  const auto [begin, end] = PartitionBounds(data.size(), worker, num_workers);
  Dataset d;
  d.unlabelled = data.unlabelled;
  d.height = data.height;
  d.width = data.width;
  d.channels = data.channels;
  d.num_classes = data.num_classes;
  d.label_map = data.label_map;
  d.standardization = data.standardization;
  const std::size_t per = data.sample_size();
  d.images.assign(data.images.begin() + static_cast<std::ptrdiff_t>(begin * per),
                  data.images.begin() + static_cast<std::ptrdiff_t>(end * per));
  if (data.regression()) {
    d.targets.assign(data.targets.begin() + static_cast<std::ptrdiff_t>(begin),
                     data.targets.begin() + static_cast<std::ptrdiff_t>(end));
  } else if (!data.unlabelled) {
    d.labels.assign(data.labels.begin() + static_cast<std::ptrdiff_t>(begin),
                    data.labels.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return d;
}

Dataset Head(const Dataset& data, std::size_t n) {
  n = std::min(n, data.size());
  Dataset d;
  d.height = data.height;
  d.width = data.width;
  d.channels = data.channels;
  d.num_classes = data.num_classes;
  d.label_map = data.label_map;
  d.standardization = data.standardization;
  d.unlabelled = data.unlabelled;
  d.images.assign(data.images.begin(), data.images.begin() + static_cast<std::ptrdiff_t>(n * data.sample_size()));
  if (data.regression()) {
    d.targets.assign(data.targets.begin(), data.targets.begin() + static_cast<std::ptrdiff_t>(n));
  } else if (!data.unlabelled) {
    d.labels.assign(data.labels.begin(), data.labels.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return d;
}

Result<Standardization> ComputeStandardization(const Dataset& data) {
  if (data.size() == 0) return Status::InvalidArgument("standardization: no samples to take the mean of");
  const std::size_t features = data.sample_size();
  std::vector<double> sum(features, 0.0), sum_sq(features, 0.0);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const float* x = data.image(i);
    for (std::size_t f = 0; f < features; ++f) sum[f] += x[f];
  }
  const double n = static_cast<double>(data.size());
  Standardization s;
  s.mean.resize(features);
  s.stddev.resize(features);
  for (std::size_t f = 0; f < features; ++f) s.mean[f] = static_cast<float>(sum[f] / n);
  // Two passes: the deviation from the mean loses nothing to cancellation.
  for (std::size_t i = 0; i < data.size(); ++i) {
    const float* x = data.image(i);
    for (std::size_t f = 0; f < features; ++f) {
      const double d = static_cast<double>(x[f]) - s.mean[f];
      sum_sq[f] += d * d;
    }
  }
  for (std::size_t f = 0; f < features; ++f) {
    const double sd = std::sqrt(sum_sq[f] / n);
    s.stddev[f] = sd > 0 ? static_cast<float>(sd) : 1.0f;
  }
  return s;
}

Status ApplyStandardization(const Standardization& s, Dataset& data) {
  const std::size_t features = data.sample_size();
  if (s.mean.size() != features || s.stddev.size() != features) {
    return Status::InvalidArgument("standardization of " + std::to_string(s.mean.size()) +
                                   " features does not fit samples of " + std::to_string(features) + " features");
  }
  for (std::size_t i = 0; i < data.size(); ++i) {
    float* x = data.images.data() + i * features;
    for (std::size_t f = 0; f < features; ++f) x[f] = (x[f] - s.mean[f]) / s.stddev[f];
  }
  data.standardization = s;
  return Status::OK();
}

void OneHot(const std::uint8_t* labels, std::size_t count, std::size_t num_classes, float* out) {
  std::fill(out, out + count * num_classes, 0.0f);
  for (std::size_t i = 0; i < count; ++i) out[i * num_classes + labels[i]] = 1.0f;
}

}  // namespace asyncps::models
