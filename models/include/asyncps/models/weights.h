// Saving and loading a model's flat parameters as an .npz with one array per
// tensor, named by the layout ("conv2d_1/kernel", ...), in Keras shapes:
//   w = numpy.load("model.npz"); w["dense_1/kernel"].shape == (4608, 225)
#pragma once

#include <span>
#include <string>

#include "asyncps/core/layout.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

// REQUIRES: params.size() == layout.total_size().
Status SaveWeights(const std::string& path, const ParameterLayout& layout, std::span<const float> params);

// Fills params from the file. Every layout tensor must be present with its exact
// shape (extra members are ignored); otherwise InvalidArgument naming the file
// and the missing or mis-shaped tensor, and params are left unchanged.
Status LoadWeights(const std::string& path, const ParameterLayout& layout, std::span<float> params);

// Fills params from the arrays of an .npz taken in file order, whatever their
// names: what numpy.savez(f, *model.get_weights()) writes (arr_0, arr_1, ...)
// and what SaveWeights writes (layout order is Keras' get_weights() order).
// There must be one array per layout tensor, each with the tensor's exact
// shape; otherwise InvalidArgument naming the file, the array's position and
// name, the tensor and both shapes, and params are left unchanged.
Status LoadWeightsInOrder(const std::string& path, const ParameterLayout& layout, std::span<float> params);

}  // namespace asyncps::models
