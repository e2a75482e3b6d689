// .npz archives (a zip of .npy members), readable with numpy.load.
//
// Written uncompressed (as numpy.savez); read stored or deflated members (so
// numpy.savez_compressed files load too).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "asyncps/models/npy.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

struct NpyView {
  std::string name;  // member "<name>.npy"
  std::vector<std::size_t> shape;
  std::span<const float> data;
};

// Writes the arrays to `path` (replaced atomically via a temporary file).
// IOError naming the path when it cannot be written.
Status SaveNpz(const std::string& path, const std::vector<NpyView>& arrays);

// Reads every member. IOError/InvalidArgument naming the file and the member.
Result<std::vector<NpyArray>> LoadNpz(const std::string& path);

}  // namespace asyncps::models
