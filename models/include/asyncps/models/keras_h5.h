// Keras HDF5 files (libhdf5): a whole model as model.save('m.h5') writes it
// (attribute model_config: the architecture as JSON; group model_weights:
// the weights), or weights alone as model.save_weights('w.h5') writes them.
//
// Weights layout, both cases: a group (the file's root, or model_weights) with
// attribute layer_names, one subgroup per layer with attribute weight_names
// ("conv2d/kernel:0", ...), and a float dataset at each weight name inside the
// layer's group. Nothing is executed; only these attributes and datasets are read.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/models/npy.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

struct KerasH5Layer {
  std::string name;
  std::vector<NpyArray> weights;  // in weight_names order, named by them
};

struct KerasH5File {
  std::string model_config;          // JSON; empty for a weights-only file
  std::vector<KerasH5Layer> layers;  // layer_names order, layers without weights included
};

// Reads the model config (if any) and every weight. Errors name the file and
// the attribute, group or dataset that is missing or malformed (IOError when
// the file cannot be opened as HDF5).
Result<KerasH5File> ReadKerasH5(const std::string& path);

// Fills params from `file`'s weights as Keras' model.load_weights does: the
// k-th layer holding weights in the file goes to the k-th layer holding
// weights in the model (layout tensors "<layer>/kernel", "<layer>/bias"), each
// weight with the tensor's exact shape. InvalidArgument naming `source`, the
// layers and the shapes otherwise; params are left unchanged then.
Status SetKerasWeights(const KerasH5File& file, const std::string& source, const ParameterLayout& layout,
                       std::span<float> params);

// Writes params as model.save_weights('w.h5') does, for model.load_weights:
// attributes layer_names, backend, keras_version at the root, a group per
// layer holding weights (layout tensors "<layer>/kernel", "<layer>/bias") with
// attribute weight_names ("<layer>/kernel:0", ...) and a float32 dataset at
// each. REQUIRES: params.size() == layout.total_size(). IOError naming the
// file when it cannot be written.
Status SaveKerasH5Weights(const std::string& path, const ParameterLayout& layout, std::span<const float> params);

}  // namespace asyncps::models
