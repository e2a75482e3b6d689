// Tiny MNIST-format and CSV files for the loader tests.
#pragma once

#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "asyncps/models/idx_reader.h"

namespace asyncps::models::testing {

inline std::string IdxBytes(const std::vector<std::size_t>& dims, const std::vector<std::uint8_t>& data,
                            unsigned char type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::size_t d : dims) {
    s += static_cast<char>(d >> 24);
    s += static_cast<char>(d >> 16);
    s += static_cast<char>(d >> 8);
    s += static_cast<char>(d);
  }
  s.append(data.begin(), data.end());
  return s;
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// n images of 28x28 where image i is filled with i, labels i % 10.
inline void WriteMnistSplit(const std::string& dir, const std::string& prefix, std::size_t n, bool gz) {
  std::vector<std::uint8_t> img(n * 784), lab(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::fill(img.begin() + static_cast<std::ptrdiff_t>(i * 784),
              img.begin() + static_cast<std::ptrdiff_t>((i + 1) * 784), static_cast<std::uint8_t>(i));
    lab[i] = static_cast<std::uint8_t>(i % 10);
  }
  const std::string ext = gz ? ".gz" : "";
  auto write = gz ? WriteGz : WriteBytes;
  write(dir + "/" + prefix + "-images-idx3-ubyte" + ext, IdxBytes({n, 28, 28}, img));
  write(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, IdxBytes({n}, lab));
}

}  // namespace asyncps::models::testing
