// Keras models: a Sequential model as Keras describes it (model.to_json(), or
// the model_config of an HDF5 file) built as an asyncps Sequential.
//
// Accepted: both forms Keras has written, Keras <= 2.2 ("config": [layer, ...])
// and later Keras 2.x / tf.keras ("config": {"name": ..., "layers": [...]},
// optionally starting with an InputLayer); the input from batch_input_shape.
// Layers: Conv2D (any kernel size, strides, valid/same padding, use_bias,
// activation), MaxPooling2D and AveragePooling2D (pool size, strides, padding),
// Flatten, Dense (units, activation, use_bias), Dropout (rate), Activation;
// activations linear, relu, sigmoid, tanh, and softmax as the last one (fused
// into the cross-entropy loss, so the built model ends in logits); channels_last.
// Initializers (GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
// LecunUniform, VarianceScaling, Zeros, Ones, Constant, RandomNormal,
// RandomUniform, TruncatedNormal) are honoured; an initializer's own seed is
// used, else the model's.
//
// Anything else (another layer, a Functional model, channels_first, dilation,
// groups != 1, a regularizer or constraint, a frozen layer, Lambda) is refused
// with InvalidArgument naming the layer, the field and its value. So is a model
// beyond limits.h: a size field (units, filters, kernel_size, strides,
// pool_size, an input dimension) above 2^31 - 1, a layer whose output, tensor
// or workspace would hold more than 2^31 - 1 floats, more parameters than
// max_parameters, and JSON nested more than 64 deep. Nothing in the file is
// ever executed: it is data only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "asyncps/models/keras_h5.h"
#include "asyncps/models/limits.h"
#include "asyncps/models/sequential.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

// Builds and initialises (from `seed`) the model described by `json`; `source`
// names it in errors (the file). Layer names are the file's. A model of more
// than max_parameters (at most kMaxParameters) parameters is refused before
// anything is allocated.
Result<std::unique_ptr<Sequential>> BuildKerasModel(std::string_view json, const std::string& source,
                                                    std::uint64_t seed, std::size_t max_parameters = kMaxParameters);

// Reads a .json file (model.to_json()) and builds it. IOError when the file
// cannot be read.
Result<std::unique_ptr<Sequential>> LoadKerasJson(const std::string& path, std::uint64_t seed,
                                                  std::size_t max_parameters = kMaxParameters);

// A .h5/.hdf5 file (model.save): the architecture from its model_config and
// the weights it holds; any other name: LoadKerasJson. A weights-only .h5 is
// refused (it has no architecture: use it as initial weights). An .h5 file is
// read in a child process stopped after h5_time_limit (keras_h5.h).
Result<std::unique_ptr<Sequential>> LoadKerasModel(const std::string& path, std::uint64_t seed,
                                                   std::size_t max_parameters = kMaxParameters,
                                                   std::chrono::milliseconds h5_time_limit = kKerasH5TimeLimit);

// Sets the model's weights from a file: .h5/.hdf5 as model.load_weights reads
// it (see keras_h5.h), otherwise an .npz in get_weights() order
// (LoadWeightsInOrder). Errors name the file and the mismatch.
Status LoadInitialWeights(const std::string& path, Sequential& model);

// Writes the model's weights, one array per tensor in get_weights() order:
// .h5/.hdf5 as model.save_weights writes them (SaveKerasH5Weights), otherwise
// an .npz (SaveWeights: numpy.load(f).values() in get_weights() order).
Status SaveFinalWeights(const std::string& path, const Sequential& model);

// True for the names of HDF5 files: ".h5", ".hdf5".
bool IsHdf5Path(const std::string& path);

}  // namespace asyncps::models
