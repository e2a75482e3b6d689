#include "asyncps/models/idx_reader.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>

namespace asyncps::models {

namespace {
std::string DimsToString(const std::vector<std::size_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s.push_back('x');
    s.append(std::to_string(dims[i]));
  }
  return s;
}

// Reads the whole file, gunzipping transparently (zlib passes raw files through).
Result<std::vector<std::uint8_t>> ReadAll(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  }
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return Status::IOError(path + ": corrupt gzip data (" + msg + "); re-download the file");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_STREAM_END) {
    std::string m = msg;
    gzclose(f);
    return Status::IOError(path + ": truncated or corrupt gzip data (" + m + "); re-download the file");
  }
  gzclose(f);
  return out;
}
}  // namespace

Result<IdxArray> ReadIdx(const std::string& path, int expected_rank) {
  Result<std::vector<std::uint8_t>> read = ReadAll(path);
  if (!read.ok()) return read.status();
  const std::vector<std::uint8_t>& b = read.value();
  if (b.size() < 4) {
    return Status::InvalidArgument(path + ": truncated: " + std::to_string(b.size()) +
                                   " bytes, too short for an IDX header");
  }
  if (b[0] != 0 || b[1] != 0) {
    char m[64];
    std::snprintf(m, sizeof m, "0x%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return Status::InvalidArgument(path + ": bad magic number " + m + ": not an IDX file (expected 0x000008xx)");
  }
  if (b[2] != 0x08) {
    return Status::InvalidArgument(path + ": IDX element type 0x" + std::to_string(b[2]) +
                                   " is not supported (only unsigned bytes, 0x08)");
  }
  const int rank = b[3];
  if (rank == 0 || (expected_rank != 0 && rank != expected_rank)) {
    return Status::InvalidArgument(
        path + ": IDX rank " + std::to_string(rank) + ", expected " + std::to_string(expected_rank) +
        (expected_rank == 3 ? " (an images file)" : " (a labels file)") + "; are the image and label files swapped?");
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (b.size() < header) {
    return Status::InvalidArgument(path + ": truncated IDX header (" + std::to_string(b.size()) + " bytes, need " +
                                   std::to_string(header) + ")");
  }
  IdxArray a;
  std::size_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint8_t* p = b.data() + 4 + 4 * i;
    const std::size_t d =
        (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | std::size_t{p[3]};
    if (d == 0) return Status::InvalidArgument(path + ": IDX dimension " + std::to_string(i) + " is 0");
    a.dims.push_back(d);
    if (total > (std::size_t{1} << 40) / d) {
      return Status::InvalidArgument(path + ": implausible IDX dimensions (over 2^40 elements); corrupt header?");
    }
    total *= d;
  }
  const std::size_t have = b.size() - header;
  if (have < total) {
    return Status::InvalidArgument(path + ": truncated: header says " + DimsToString(a.dims) + " = " +
                                   std::to_string(total) + " bytes of data, file has " + std::to_string(have) +
                                   "; re-download the file");
  }
  if (have > total) {
    return Status::InvalidArgument(path + ": " + std::to_string(have - total) + " unexpected trailing bytes after " +
                                   DimsToString(a.dims) + " elements (count in the header is wrong?)");
  }
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

Status WriteIdx(const std::string& path, const IdxArray& a) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::IOError(path + ": cannot create file");
  const unsigned char magic[4] = {0, 0, 0x08, static_cast<unsigned char>(a.dims.size())};
  f.write(reinterpret_cast<const char*>(magic), 4);
  for (std::size_t d : a.dims) {
    const unsigned char be[4] = {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                                 static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
    f.write(reinterpret_cast<const char*>(be), 4);
  }
  f.write(reinterpret_cast<const char*>(a.data.data()), static_cast<std::streamsize>(a.data.size()));
  if (!f) return Status::IOError(path + ": write failed (disk full?)");
  return Status::OK();
}

}  // namespace asyncps::models
