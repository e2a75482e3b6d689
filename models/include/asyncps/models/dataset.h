// Dataset: images normalised to float NHWC (or feature vectors, 1x1xN) plus
// integer labels, loaded from MNIST-format IDX files (Fashion-MNIST by default),
// CIFAR-10 or CSV, and partitioned among workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::models {

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

// Standardization: per-feature (x - mean) / stddev with the training set's
// figures (scikit-learn's StandardScaler, what Dist-Keras' Higgs example did
// before training), applied unchanged to every later file.
struct Standardization {
  std::vector<float> mean;    // one per feature
  std::vector<float> stddev;  // one per feature, > 0 (a constant feature gets 1)
  bool empty() const { return mean.empty(); }
};

struct Dataset {
  std::size_t height = 0, width = 0, channels = 0;
  std::size_t num_classes = 10;
  std::vector<float> images;         // size() * height * width * channels
  std::vector<std::uint8_t> labels;  // class index per sample (classification)
  // Regression: one real target per sample (labels is empty); classification: empty.
  std::vector<float> targets;
  // Class index -> the label as the data file wrote it (tabular CSV: "b", "s",
  // "-1", ...); empty: the index is the label (IDX, CIFAR-10, pixel CSV).
  std::vector<std::string> label_map;
  // Non-empty: the features were standardized with these training-set figures.
  Standardization standardization;
  // Unlabelled (data to predict on): labels and targets both empty; size()
  // counts the samples in images.
  bool unlabelled = false;
  bool regression() const { return !targets.empty(); }
  std::size_t size() const {
    if (unlabelled) return sample_size() == 0 ? 0 : images.size() / sample_size();
    return regression() ? targets.size() : labels.size();
  }
  std::size_t sample_size() const { return height * width * channels; }
  const float* image(std::size_t i) const { return images.data() + i * sample_size(); }
};

enum class Split { kTrain, kTest };

struct MnistOptions {
  std::string dir = kDefaultDataDir;  // holds train-images-idx3-ubyte[.gz] etc.
  float divisor = 255.0f;             // x / divisor (Dist-Keras used 250)
  std::size_t limit = 0;              // keep only the first `limit` samples (0: all)
  std::size_t num_classes = 10;
  // Keep only share `worker` of `num_workers` (after `limit`), the same block as
  // Partition() gives, converted to float alone: W workers on one machine do not
  // each hold the whole training set in float.
  std::size_t worker = 0;
  std::size_t num_workers = 1;
};

// The image and label files of `split` in `dir` ({train,t10k}-{images-idx3,
// labels-idx1}-ubyte, the .gz name first). IOError naming the directory and
// the missing file, or a file that cannot be opened for reading.
struct MnistFiles {
  std::string images, labels;
};
Result<MnistFiles> FindMnistFiles(const std::string& dir, Split split);

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte, trying the .gz name first
// and then the raw one. Errors name the directory and the files looked for
// ("point --data at a directory holding them"), or the IDX problem; labels
// outside [0, num_classes) and image/label count mismatches are errors too, and
// so is worker >= num_workers.
Result<Dataset> LoadMnist(const MnistOptions& options, Split split);

// Converts raw bytes to a dataset (shared by the IDX and CSV loaders).
// InvalidArgument when the counts disagree or a label is out of range.
Result<Dataset> MakeDataset(std::size_t height, std::size_t width, std::size_t channels, std::size_t num_classes,
                            const std::vector<std::uint8_t>& pixels, std::vector<std::uint8_t> labels, float divisor);

// The first and one-past-last sample of worker `worker` of `num_workers`' share
// of n samples: [worker*n/W, (worker+1)*n/W). REQUIRES: worker < num_workers.
std::pair<std::size_t, std::size_t> PartitionBounds(std::size_t n, std::size_t worker, std::size_t num_workers);

// Worker `worker` of `num_workers`' share: the contiguous block
// PartitionBounds(data.size(), worker, num_workers) of the samples. The W shares are disjoint, cover
// every sample and differ in size by at most one.
// InvalidArgument unless num_workers >= 1 and worker < num_workers.
Result<Dataset> Partition(const Dataset& data, std::size_t worker, std::size_t num_workers);

// The first n samples (all if n >= size()).
Dataset Head(const Dataset& data, std::size_t n);

// The mean and population standard deviation of each feature over data's
// samples, accumulated in double. A feature whose deviation is 0 (a constant
// column) gets stddev 1, so that it maps to 0 rather than to NaN.
// InvalidArgument when data has no samples.
Result<Standardization> ComputeStandardization(const Dataset& data);

// Replaces every feature x of data by (x - mean) / stddev and records `s` in
// data.standardization. InvalidArgument (data unchanged) when s has not one
// figure per feature of data's samples.
Status ApplyStandardization(const Standardization& s, Dataset& data);

// One-hot encodes labels into out [labels.size(), num_classes].
void OneHot(const std::uint8_t* labels, std::size_t count, std::size_t num_classes, float* out);

}  // namespace asyncps::models
