// .npy (format 1.0) encoding of float32 arrays, C order, little-endian.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::models {

struct NpyArray {
  std::string name;                // npz member name without ".npy"
  std::vector<std::size_t> shape;  // empty: a scalar
  std::vector<float> data;
};

// The bytes of a .npy file holding `data` with `shape` ('<f4').
// REQUIRES: product(shape) == data.size().
std::string EncodeNpy(std::span<const float> data, const std::vector<std::size_t>& shape);

// Parses a .npy file; accepts '<f4' and '<f8' (converted to float), C order only.
// InvalidArgument naming `what` (the file or member) and the problem.
Result<NpyArray> DecodeNpy(std::string_view bytes, const std::string& what);

}  // namespace asyncps::models
