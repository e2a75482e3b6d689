// Checks that a file the binary will write at the end of a run can be written,
// before the run starts: a bad path must not throw a finished run away.
#pragma once

#include <string>

#include "asyncps/core/status.h"

namespace asyncps::worker {

// OK when `path` is empty (nothing to write) or names a file whose folder
// exists and is writable, and which is not a folder or a read-only file itself.
// Otherwise IOError naming `flag`, the path and what to change. Creates nothing.
Status CheckOutputPath(const std::string& flag, const std::string& path);

}  // namespace asyncps::worker
