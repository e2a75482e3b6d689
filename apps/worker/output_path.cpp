#include "output_path.h"

#include <unistd.h>

#include <filesystem>

namespace asyncps::worker {

Status CheckOutputPath(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) return Status::OK();
  const std::string what = flag + " " + path + ": ";
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) return Status::IOError(what + "is a folder; name a file in it");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    return Status::IOError(what + "folder " + dir.string() + " does not exist; create it or choose another path");
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::IOError(what + "folder " + dir.string() + " is not writable; choose another path");
  if (fs::exists(p, ec) && access(p.c_str(), W_OK) != 0)
    return Status::IOError(what + "exists and is not writable; choose another path");
  return Status::OK();
}

}  // namespace asyncps::worker
