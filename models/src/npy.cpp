#include "asyncps/models/npy.h"

#include <cstring>

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
  std::size_t elem = 0;
  if (descr == "'<f4'")
    elem = 4;
  else if (descr == "'<f8'")
    elem = 8;
  else
    return Status::InvalidArgument(what + ": dtype " + descr + " is not supported (use float32 '<f4' or float64)");
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
      v = v * 10 + static_cast<std::size_t>(shape[p++] - '0');
      digits = true;
    }
    if (!digits) return Status::InvalidArgument(what + ": malformed shape " + shape);
    a.shape.push_back(v);
    count *= v;
  }
  const std::string_view payload = b.substr(start + hl);
  if (payload.size() != count * elem) {
    return Status::InvalidArgument(what + ": shape " + shape + " needs " + std::to_string(count * elem) +
                                   " bytes of data, found " + std::to_string(payload.size()));
  }
  a.data.resize(count);
  if (elem == 4) {
    std::memcpy(a.data.data(), payload.data(), count * 4);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, payload.data() + i * 8, 8);
      a.data[i] = static_cast<float>(d);
    }
  }
  return a;
}

}  // namespace asyncps::models
