#include "asyncps/models/shape.h"

namespace asyncps::models {

std::string Shape::ToString() const {
  if (rank == 1) return "(None, " + std::to_string(channels) + ")";
  if (rank == 2) return "(None, " + std::to_string(width) + ", " + std::to_string(channels) + ")";
  return "(None, " + std::to_string(height) + ", " + std::to_string(width) + ", " + std::to_string(channels) + ")";
}

}  // namespace asyncps::models
