// Keras HDF5 files (libhdf5): a whole model as model.save('m.h5') writes it
// (attribute model_config: the architecture as JSON; group model_weights:
// the weights), or weights alone as model.save_weights('w.h5') writes them.
//
// Weights layout, both cases: a group (the file's root, or model_weights) with
// attribute layer_names, one subgroup per layer with attribute weight_names
// ("conv2d/kernel:0", ...), and a float dataset at each weight name inside the
// layer's group. Nothing is executed; only these attributes and datasets are read.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/models/npy.h"
#include "asyncps/core/status.h"
#include "asyncps/models/loss.h"

namespace asyncps::models {

struct KerasH5Layer {
  std::string name;
  std::vector<NpyArray> weights;  // in weight_names order, named by them
};

struct KerasH5File {
  std::string model_config;          // JSON; empty for a weights-only file
  std::vector<KerasH5Layer> layers;  // layer_names order, layers without weights included
};

// The file is untrusted input, read in a child process (libhdf5 1.10 itself
// crashes, loops and allocates what a crafted file claims on some files: a
// child's crash, or its running past time_limit, is an InvalidArgument naming
// the file, and the caller goes on). What the child sends back is checked as
// input again. Only a regular file is opened; only hard links inside it are
// followed (external and soft links are refused); a dataset is read only from
// storage inside the file (contiguous, chunked or compact; no external
// storage, virtual datasets, fill-value-only data, or filters other than
// deflate and shuffle; plugin loading is off); string attributes are bounded
// (64 MiB); sizes are checked before anything is allocated.
// REQUIRES (the child is forked): no other thread of the caller holds a lock
// that libhdf5 or the allocator needs; glibc's malloc is safe.

// How long reading one file may take before the reader is stopped.
inline constexpr std::chrono::milliseconds kKerasH5TimeLimit{60'000};

// The model_config attribute (the architecture as JSON), or "" for a
// weights-only file. IOError when the file cannot be opened as HDF5.
Result<std::string> ReadKerasH5ModelConfig(const std::string& path,
                                           std::chrono::milliseconds time_limit = kKerasH5TimeLimit);

// The training_config attribute (model.compile's loss, metrics and optimizer
// as JSON) of a model.save() file, or "" when the model was not compiled.
// IOError when the file cannot be opened as HDF5.
Result<std::string> ReadKerasH5TrainingConfig(const std::string& path,
                                              std::chrono::milliseconds time_limit = kKerasH5TimeLimit);

// The loss of a Keras training_config (the JSON model.save() writes beside the
// model): "loss" as a name ("binary_crossentropy", "mse") or as a serialized
// loss ({"class_name": "BinaryCrossentropy", "config": {"from_logits": true}};
// Huber's "delta"). InvalidArgument naming `source` when it is not JSON, has no
// loss, or names one asyncps does not implement (a per-output dict included).
Result<Loss> LossFromTrainingConfig(std::string_view training_config, const std::string& source);

// The optimizer of a Keras training_config ("optimizer_config": {"class_name":
// "Adam", "config": {"learning_rate": 0.001, ...}}): its name as
// MakeOptimizer takes it and its learning rate (0: not given); only these
// two are read. nullopt when the config has no optimizer_config.
// InvalidArgument naming `source` for a config that is not JSON, an optimizer
// asyncps does not implement, or a learning rate that is not a number >= 0
// (a schedule included).
struct TrainingOptimizer {
  std::string name;
  float learning_rate = 0;
};
Result<std::optional<TrainingOptimizer>> OptimizerFromTrainingConfig(std::string_view training_config,
                                                                     const std::string& source);

// Reads the model config (if any) and every weight, at most `max_values`
// floats in all (pass the model's parameter count: a file claiming more is
// refused, naming the dataset and its shape, before it is allocated). Errors
// name the file and the attribute, group or dataset that is missing,
// malformed or refused (IOError when the file cannot be opened as HDF5).
Result<KerasH5File> ReadKerasH5(const std::string& path, std::size_t max_values,
                                std::chrono::milliseconds time_limit = kKerasH5TimeLimit);

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
