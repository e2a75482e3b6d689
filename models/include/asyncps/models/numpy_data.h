// NumPy data as Keras users have it: x_train, y_train, x_test, y_test, the
// names of keras.datasets.*.load_data(), in one .npz (np.savez(path,
// x_train=..., ...)) or as four .npy files in a directory.
//
//   x: (N, H, W) one-channel images, (N, H, W, C) images, or (N, F) feature
//      vectors (token ids for an Embedding included). uint8 values are pixels,
//      divided by the divisor; every other dtype is taken as written.
//   y: (N,) or (N, 1) whole numbers >= 0, the class indices (the classes are
//      0 .. the training labels' largest); (N, C) one-hot rows (C classes); or,
//      when any value is not a whole number, one real regression target each.
#pragma once

#include <cstddef>
#include <string>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

struct NumpyDataOptions {
  std::string path;        // the .npz, or the directory of x_train.npy, y_train.npy, x_test.npy, y_test.npy
  float divisor = 255.0f;  // for uint8 x
  std::size_t limit = 0;   // keep only the first `limit` samples (0: all)
  std::size_t worker = 0;  // then only share `worker` of `num_workers` (Partition's block)
  std::size_t num_workers = 1;
};

// True when `path` is NumPy data: a file ending in .npz, or a directory holding x_train.npy.
bool IsNumpyData(const std::string& path);

// The split's samples. Errors name the file and array: a missing array, x and
// y of different lengths, a shape other than the above, a label that is
// negative, above kMaxClasses - 1 or a one-hot row without exactly one 1, a
// test label beyond the training labels' classes, NaN or Inf anywhere.
Result<Dataset> LoadNumpyData(const NumpyDataOptions& options, Split split);

// Samples to predict on, unlabelled: the x array of a .npy file, else x_test
// of the .npz or folder at `path` (its y arrays are not read). The same shapes
// and checks as LoadNumpyData's x.
Result<Dataset> LoadNumpySamples(const std::string& path, float divisor = 255.0f);

}  // namespace asyncps::models
