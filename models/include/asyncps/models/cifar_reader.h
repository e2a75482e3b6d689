// CIFAR-10, binary version: a directory with data_batch_1.bin ... data_batch_5.bin
// (training) and test_batch.bin (test). Each record is 3,073 bytes: the label
// (0-9), then 1,024 red, 1,024 green and 1,024 blue bytes of a 32x32 image,
// rows first. Loaded as NHWC 32x32x3 images divided by `divisor`.
#pragma once

#include <cstddef>
#include <string>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

inline constexpr std::size_t kCifarRecordBytes = 1 + 32 * 32 * 3;

struct CifarOptions {
  std::string dir;
  float divisor = 255.0f;
  std::size_t limit = 0;   // keep only the first `limit` samples (0: all)
  std::size_t worker = 0;  // share `worker` of `num_workers`, as MnistOptions
  std::size_t num_workers = 1;
};

// True when `dir` holds data_batch_1.bin (how --data-format auto tells CIFAR-10).
bool IsCifar10Dir(const std::string& dir);

// Errors name the file and what is wrong: a missing batch file (IOError), a
// size that is not a whole number of records (the trailing bytes' offset), a
// label outside 0-9 (the record and its byte offset).
Result<Dataset> LoadCifar10(const CifarOptions& options, Split split);

}  // namespace asyncps::models
