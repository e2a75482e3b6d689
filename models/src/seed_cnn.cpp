#include "asyncps/models/seed_cnn.h"

#include "asyncps/models/conv2d.h"
#include "asyncps/models/dense.h"
#include "asyncps/models/flatten.h"
#include "asyncps/models/maxpool2d.h"
#include "asyncps/models/relu.h"

namespace asyncps::models {

Result<std::unique_ptr<Sequential>> BuildSeedCnn(const SeedCnnOptions& o) {
  auto m = std::make_unique<Sequential>(Shape::Image(o.height, o.width, o.channels));
  const Conv2DOptions conv{.filters = 32, .kernel_height = 3, .kernel_width = 3, .padding = Padding::kValid};
  m->Add(std::make_unique<Conv2D>(conv));
  m->Add(std::make_unique<ReLU>());
  m->Add(std::make_unique<Conv2D>(conv));
  m->Add(std::make_unique<ReLU>());
  m->Add(std::make_unique<MaxPool2D>(2, 2));
  m->Add(std::make_unique<Flatten>());
  m->Add(std::make_unique<Dense>(225));
  m->Add(std::make_unique<ReLU>());
  m->Add(std::make_unique<Dense>(o.num_classes));
  if (Status s = m->Build(o.seed); !s.ok()) {
    return Status::InvalidArgument("seed CNN: " + s.message());
  }
  return m;
}

}  // namespace asyncps::models
