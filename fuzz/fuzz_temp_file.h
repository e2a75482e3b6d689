// A file the fuzz targets whose readers take a path (checkpoints, Keras HDF5)
// write each input to: one private directory per process, removed at exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

namespace asyncps::fuzz {

// The process's private directory (created on first use, removed at exit).
inline const std::filesystem::path& TempDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d =
        std::filesystem::temp_directory_path() / ("asyncps-fuzz-" + std::to_string(static_cast<long>(::getpid())));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(TempDir(), ec);
    });
    return d;
  }();
  return dir;
}

// Replaces the file at `path` by `bytes`; aborts when it cannot (a broken
// setup, not a finding).
inline void WriteFile(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz setup: cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace asyncps::fuzz
