// Writes a float32 vector as a NumPy .npy file (format 1.0), readable with numpy.load.
#pragma once

#include <span>
#include <string>

#include "asyncps/core/status.h"

namespace asyncps::ps {

Status WriteNpy1D(const std::string& path, std::span<const float> values);

}  // namespace asyncps::ps
