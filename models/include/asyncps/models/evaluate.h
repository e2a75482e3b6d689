// Batched evaluation: accuracy (argmax of the logits) and mean cross-entropy.
#pragma once

#include <cstddef>

#include "asyncps/models/dataset.h"
#include "asyncps/models/sequential.h"

namespace asyncps::models {

struct Evaluation {
  double accuracy = 0.0;  // fraction in [0, 1]
  double loss = 0.0;      // mean categorical cross-entropy
  std::size_t samples = 0;
};

// Runs the model in evaluation mode over `data` in batches of batch_size.
// InvalidArgument when the data's image shape or class count do not match the model.
Result<Evaluation> Evaluate(Sequential& model, const Dataset& data, std::size_t batch_size = 256);

}  // namespace asyncps::models
