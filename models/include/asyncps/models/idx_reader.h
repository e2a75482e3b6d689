// IDX reader: the MNIST file format, raw or gzip-compressed (detected by content).
//
// Validates the magic number (0x00 0x00 0x08 <rank>: unsigned bytes), the rank
// expected by the caller, the dimensions and the payload length; every error
// names the file and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::models {

struct IdxArray {
  std::vector<std::size_t> dims;   // e.g. {60000, 28, 28} or {60000}
  std::vector<std::uint8_t> data;  // row-major, product(dims) bytes
};

// Reads the whole file (gunzipping if it starts with the gzip magic).
// expected_rank: 3 for images, 1 for labels; 0 accepts any rank.
// Errors: IOError (missing/unreadable, corrupt gzip), InvalidArgument (bad magic,
// wrong rank, zero dimension, truncated payload, trailing bytes).
Result<IdxArray> ReadIdx(const std::string& path, int expected_rank = 0);

// Writes a raw (uncompressed) IDX file of unsigned bytes; for tests and tools.
Status WriteIdx(const std::string& path, const IdxArray& array);

}  // namespace asyncps::models
