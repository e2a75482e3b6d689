// .npy arrays: float32 written (format 1.0, C order, little-endian); read
// as float from float32/float64 and from the integer and bool dtypes numpy
// writes (Keras' load_data() arrays are uint8, token ids int32/int64).
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
  // The dtype the file held, numpy's kind and size: "f4", "f8", "u1", "i1",
  // "u2", "i2", "u4", "i4", "u8", "i8", "b1".
  std::string dtype = "f4";
  bool floating() const { return dtype[0] == 'f'; }
};

// The bytes of a .npy file holding `data` with `shape` ('<f4').
// REQUIRES: product(shape) == data.size().
std::string EncodeNpy(std::span<const float> data, const std::vector<std::size_t>& shape);

// Parses a .npy file, C order only: float32/float64 and the integer and bool
// dtypes, converted to float (integers beyond 2^24 are rounded as float
// rounds them). InvalidArgument naming `what` (the file or member) and the
// problem, also for a shape whose size overflows or does not match the data.
Result<NpyArray> DecodeNpy(std::string_view bytes, const std::string& what);

}  // namespace asyncps::models
