#include "asyncps/models/npz.h"

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace asyncps::models {

namespace {
void Put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void Put32(std::string& s, std::uint32_t v) {
  Put16(s, v & 0xffff);
  Put16(s, v >> 16);
}
std::uint64_t Get(std::string_view s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

constexpr std::uint32_t kLocal = 0x04034b50, kCentral = 0x02014b50, kEnd = 0x06054b50;
constexpr std::uint32_t kEnd64 = 0x06064b50, kEnd64Locator = 0x07064b50;
constexpr std::uint32_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
}  // namespace

Status SaveNpz(const std::string& path, const std::vector<NpyView>& arrays) {
  std::string zip, central;
  for (const NpyView& a : arrays) {
    const std::string npy = EncodeNpy(a.data, a.shape);
    const std::string name = a.name + ".npy";
    if (zip.size() + npy.size() > 0xFFFFFFF0u) {
      return Status::InvalidArgument(path + ": arrays over 4 GiB are not supported");
    }
    const std::uint32_t crc =
        static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(npy.data()), static_cast<uInt>(npy.size())));
    const std::uint32_t offset = static_cast<std::uint32_t>(zip.size());
    const std::uint32_t size = static_cast<std::uint32_t>(npy.size());
    Put32(zip, kLocal);
    Put16(zip, 20);
    Put16(zip, 0);
    Put16(zip, 0);
    Put16(zip, 0);
    Put16(zip, kDosDate);
    Put32(zip, crc);
    Put32(zip, size);
    Put32(zip, size);
    Put16(zip, static_cast<std::uint32_t>(name.size()));
    Put16(zip, 0);
    zip += name;
    zip += npy;
    Put32(central, kCentral);
    Put16(central, 20);
    Put16(central, 20);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, kDosDate);
    Put32(central, crc);
    Put32(central, size);
    Put32(central, size);
    Put16(central, static_cast<std::uint32_t>(name.size()));
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put32(central, 0);
    Put32(central, offset);
    central += name;
  }
  const std::uint32_t cd_offset = static_cast<std::uint32_t>(zip.size());
  zip += central;
  Put32(zip, kEnd);
  Put16(zip, 0);
  Put16(zip, 0);
  Put16(zip, static_cast<std::uint32_t>(arrays.size()));
  Put16(zip, static_cast<std::uint32_t>(arrays.size()));
  Put32(zip, static_cast<std::uint32_t>(central.size()));
  Put32(zip, cd_offset);
  Put16(zip, 0);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IOError(path + ": cannot create " + tmp + " (does the directory exist and is it writable?)");
    f.write(zip.data(), static_cast<std::streamsize>(zip.size()));
    if (!f) return Status::IOError(path + ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError(path + ": cannot rename " + tmp + ": " + ec.message());
  return Status::OK();
}

Result<std::vector<NpyArray>> LoadNpz(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  const std::string buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string_view z(buf);
  const auto bad = [&](const std::string& m) { return Status::InvalidArgument(path + ": " + m); };
  if (z.size() < 22) return bad("too short to be an .npz (zip) file");
  std::size_t eocd = std::string_view::npos;
  for (std::size_t p = z.size() - 22 + 1; p-- > 0 && z.size() - p <= 22 + 65535;) {
    if (Get(z, p, 4) == kEnd) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::string_view::npos) return bad("not a zip/.npz file (no end-of-central-directory record)");
  std::uint64_t count = Get(z, eocd + 10, 2);
  std::uint64_t cd = Get(z, eocd + 16, 4);
  if (cd == 0xFFFFFFFFu || count == 0xFFFF) {
    if (eocd < 20 || Get(z, eocd - 20, 4) != kEnd64Locator) return bad("broken zip64 directory");
    const std::uint64_t e64 = Get(z, eocd - 20 + 8, 8);
    if (e64 + 56 > z.size() || Get(z, e64, 4) != kEnd64) return bad("broken zip64 directory");
    count = Get(z, e64 + 32, 8);
    cd = Get(z, e64 + 48, 8);
  }
  std::vector<NpyArray> out;
  std::size_t p = cd;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (p + 46 > z.size() || Get(z, p, 4) != kCentral) return bad("corrupt zip central directory");
    const std::uint32_t method = static_cast<std::uint32_t>(Get(z, p + 10, 2));
    std::uint64_t csize = Get(z, p + 20, 4), usize = Get(z, p + 24, 4);
    const std::size_t nlen = Get(z, p + 28, 2), xlen = Get(z, p + 30, 2), clen = Get(z, p + 32, 2);
    std::uint64_t local = Get(z, p + 42, 4);
    if (p + 46 + nlen + xlen + clen > z.size()) return bad("corrupt zip central directory");
    std::string name(z.substr(p + 46, nlen));
    // zip64 extra field: replaces whichever of usize, csize, offset are 0xFFFFFFFF.
    for (std::size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
      const std::uint64_t id = Get(z, x, 2), len = Get(z, x + 2, 2);
      if (x + 4 + len > p + 46 + nlen + xlen) return bad("corrupt zip extra field in " + name);
      if (id == 1) {
        std::size_t q = x + 4;
        const std::size_t end = x + 4 + len;
        for (std::uint64_t* field : {&usize, &csize, &local}) {
          if (*field != 0xFFFFFFFFu) continue;
          if (q + 8 > end) return bad("corrupt zip64 field in " + name);
          *field = Get(z, q, 8);
          q += 8;
        }
      }
      x += 4 + len;
    }
    p += 46 + nlen + xlen + clen;
    if (local + 30 > z.size() || Get(z, local, 4) != kLocal) return bad("corrupt zip entry " + name);
    const std::size_t data = local + 30 + Get(z, local + 26, 2) + Get(z, local + 28, 2);
    if (data > z.size() || csize > z.size() - data) return bad("member " + name + " is truncated");
    if (usize > (std::uint64_t{1} << 34) || (method == 0 && usize != csize)) {
      return bad("member " + name + " has implausible sizes (corrupt archive?)");
    }
    std::string bytes;
    if (method == 0) {
      bytes.assign(z.substr(data, csize));
    } else if (method == 8) {
      bytes.resize(usize);
      z_stream s{};
      if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return Status::Internal("zlib inflateInit2 failed");
      s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data() + data));
      s.avail_in = static_cast<uInt>(csize);
      s.next_out = reinterpret_cast<Bytef*>(bytes.data());
      s.avail_out = static_cast<uInt>(usize);
      const int rc = inflate(&s, Z_FINISH);
      inflateEnd(&s);
      if (rc != Z_STREAM_END) return bad("member " + name + ": corrupt deflate data");
    } else {
      return bad("member " + name + " uses zip compression method " + std::to_string(method) +
                 " (only stored and deflate are supported)");
    }
    if (name.size() < 4 || name.substr(name.size() - 4) != ".npy") continue;
    name.resize(name.size() - 4);
    Result<NpyArray> a = DecodeNpy(bytes, path + " member " + name);
    if (!a.ok()) return a.status();
    a.value().name = name;
    out.push_back(std::move(a.value()));
  }
  return out;
}

}  // namespace asyncps::models
