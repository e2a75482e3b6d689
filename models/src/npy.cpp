#include "asyncps/models/npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace asyncps::models {

std::string EncodeNpy(std::span<const float> data, const std::vector<std::size_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // magic(6) + version(2) + header_len(2) + dict + padding + '\n' is a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const std::size_t hl = dict.size();
  out += static_cast<char>(hl & 0xff);
  out += static_cast<char>(hl >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  return out;
}

namespace {
// One little-endian element of `dtype` at `p`, as float.
template <typename T>
float As(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<float>(v);
}

float Element(const std::string& dtype, const char* p) {
  if (dtype == "f8") return As<double>(p);
  if (dtype == "u1" || dtype == "b1") return As<std::uint8_t>(p);
  if (dtype == "i1") return As<std::int8_t>(p);
  if (dtype == "u2") return As<std::uint16_t>(p);
  if (dtype == "i2") return As<std::int16_t>(p);
  if (dtype == "u4") return As<std::uint32_t>(p);
  if (dtype == "i4") return As<std::int32_t>(p);
  if (dtype == "u8") return As<std::uint64_t>(p);
  return As<std::int64_t>(p);  // i8
}

// The value after "'key':" in the header dict, up to the next ',' or ')' + ','.
std::string Field(const std::string& h, const std::string& key) {
  const std::size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) return "";
  std::size_t p = h.find(':', k);
  if (p == std::string::npos) return "";
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  if (p < h.size() && h[p] == '(') return h.substr(p, h.find(')', p) - p + 1);
  std::size_t e = h.find(',', p);
  return h.substr(p, e == std::string::npos ? std::string::npos : e - p);
}
}  // namespace

Result<NpyArray> DecodeNpy(std::string_view b, const std::string& what) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
    return Status::InvalidArgument(what + ": not a .npy array (bad magic)");
  }
  const int major = static_cast<unsigned char>(b[6]);
  std::size_t hl = 0, start = 0;
  if (major == 1) {
    hl = static_cast<unsigned char>(b[8]) | (std::size_t{static_cast<unsigned char>(b[9])} << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return Status::InvalidArgument(what + ": truncated .npy header");
    for (int i = 0; i < 4; ++i) hl |= std::size_t{static_cast<unsigned char>(b[8 + i])} << (8 * i);
    start = 12;
  } else {
    return Status::InvalidArgument(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (b.size() < start + hl) return Status::InvalidArgument(what + ": truncated .npy header");
  const std::string h(b.substr(start, hl));
  const std::string descr = Field(h, "descr");
  const std::string fortran = Field(h, "fortran_order");
  const std::string shape = Field(h, "shape");
  // '<f4', '|u1', ...: '<' (little-endian) or '|' (single byte), a kind, a size.
  std::string dtype;
  if (descr.size() == 5 && descr.front() == '\'' && descr.back() == '\'' && (descr[1] == '<' || descr[1] == '|'))
    dtype = descr.substr(2, 2);
  static const char* const kDtypes[] = {"f4", "f8", "u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8"};
  if (std::find(std::begin(kDtypes), std::end(kDtypes), dtype) == std::end(kDtypes) ||
      (descr[1] == '|') != (dtype[1] == '1'))
    return Status::InvalidArgument(what + ": dtype " + descr +
                                   " is not supported (little-endian float32/64, (u)int8/16/32/64 or bool)");
  const std::size_t elem = static_cast<std::size_t>(dtype[1] - '0');
  if (fortran != "False")
    return Status::InvalidArgument(what + ": Fortran-ordered arrays are not supported; save a C-ordered copy");
  if (shape.empty() || shape.front() != '(') return Status::InvalidArgument(what + ": no shape in the .npy header");
  NpyArray a;
  std::size_t count = 1;
  for (std::size_t p = 1; p < shape.size();) {
    while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',')) ++p;
    if (p >= shape.size() || shape[p] == ')') break;
    std::size_t v = 0;
    bool digits = false;
    while (p < shape.size() && shape[p] >= '0' && shape[p] <= '9') {
      if (v > (std::size_t{1} << 48)) return Status::InvalidArgument(what + ": shape " + shape + " is too large");
      v = v * 10 + static_cast<std::size_t>(shape[p++] - '0');
      digits = true;
    }
    if (!digits) return Status::InvalidArgument(what + ": malformed shape " + shape);
    a.shape.push_back(v);
    // No more elements than the payload could hold: the product never overflows.
    if (v != 0 && count > b.size() / v) return Status::InvalidArgument(what + ": shape " + shape + " is too large");
    count *= v;
  }
  const std::string_view payload = b.substr(start + hl);
  if (payload.size() / elem != count || payload.size() % elem != 0) {
    return Status::InvalidArgument(what + ": shape " + shape + " needs " + std::to_string(count * elem) +
                                   " bytes of data, found " + std::to_string(payload.size()));
  }
  a.dtype = dtype;
  a.data.resize(count);
  const char* in = payload.data();
  if (dtype == "f4") {
    std::memcpy(a.data.data(), in, count * 4);
    return a;
  }
  for (std::size_t i = 0; i < count; ++i) a.data[i] = Element(dtype, in + i * elem);
  return a;
}

}  // namespace asyncps::models
