#include "asyncps/server/npy_writer.h"

#include <cstdint>
#include <fstream>

namespace asyncps::ps {

Status WriteNpy1D(const std::string& path, std::span<const float> values) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) + ",), }";
  // Magic (6) + version (2) + header length (2) + dict + '\n', padded to 64 bytes.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot open " + path + " for writing");
  const auto len = static_cast<std::uint16_t>(dict.size());
  const char preamble[10] = {
      '\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(preamble, sizeof preamble);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size_bytes()));
  if (!out.flush()) return Status::IOError("cannot write " + path);
  return Status::OK();
}

}  // namespace asyncps::ps
