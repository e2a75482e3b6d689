#include "asyncps/models/weights.h"

#include <algorithm>

#include "asyncps/models/npz.h"

namespace asyncps::models {

Status SaveWeights(const std::string& path, const ParameterLayout& layout, std::span<const float> params) {
  if (params.size() != layout.total_size()) {
    return Status::InvalidArgument(path + ": " + std::to_string(params.size()) +
                                   " parameters do not match the layout's " + std::to_string(layout.total_size()));
  }
  std::vector<NpyView> views;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const TensorSpec& t = layout.tensors()[i];
    views.push_back({t.name, t.shape, params.subspan(layout.offset(i), t.size())});
  }
  return SaveNpz(path, views);
}

namespace {
// The arrays of the .npz at `path`; InvalidArgument naming the first that is not float.
Result<std::vector<NpyArray>> LoadFloatArrays(const std::string& path) {
  Result<std::vector<NpyArray>> loaded = LoadNpz(path);
  if (!loaded.ok()) return loaded;
  for (const NpyArray& a : loaded.value())
    if (!a.floating())
      return Status::InvalidArgument(path + ": array '" + a.name + "' holds " + a.dtype +
                                     " values; weights are float32 (or float64)");
  return loaded;
}
}  // namespace

Status LoadWeights(const std::string& path, const ParameterLayout& layout, std::span<float> params) {
  if (params.size() != layout.total_size()) {
    return Status::InvalidArgument(path + ": buffer of " + std::to_string(params.size()) +
                                   " floats does not match the layout's " + std::to_string(layout.total_size()));
  }
  Result<std::vector<NpyArray>> loaded = LoadFloatArrays(path);
  if (!loaded.ok()) return loaded.status();
  const std::vector<NpyArray>& arrays = loaded.value();
  std::vector<const NpyArray*> found(layout.num_tensors());
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const TensorSpec& t = layout.tensors()[i];
    auto it = std::find_if(arrays.begin(), arrays.end(), [&](const NpyArray& a) { return a.name == t.name; });
    if (it == arrays.end()) {
      return Status::InvalidArgument(path + ": tensor '" + t.name +
                                     "' is missing; was the file saved from a different model?");
    }
    if (it->shape != t.shape) {
      return Status::InvalidArgument(path + ": tensor '" + t.name + "' has shape " + ShapeToString(it->shape) +
                                     ", the model expects " + ShapeToString(t.shape));
    }
    found[i] = &*it;
  }
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    std::copy(found[i]->data.begin(), found[i]->data.end(),
              params.begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
  }
  return Status::OK();
}

Status LoadWeightsInOrder(const std::string& path, const ParameterLayout& layout, std::span<float> params) {
  if (params.size() != layout.total_size()) {
    return Status::InvalidArgument(path + ": buffer of " + std::to_string(params.size()) +
                                   " floats does not match the layout's " + std::to_string(layout.total_size()));
  }
  Result<std::vector<NpyArray>> loaded = LoadFloatArrays(path);
  if (!loaded.ok()) return loaded.status();
  const std::vector<NpyArray>& arrays = loaded.value();
  if (arrays.size() != layout.num_tensors()) {
    return Status::InvalidArgument(path + ": holds " + std::to_string(arrays.size()) + " arrays, the model has " +
                                   std::to_string(layout.num_tensors()) +
                                   " weight tensors (Keras get_weights() order: kernel, then bias, per layer)");
  }
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const TensorSpec& t = layout.tensors()[i];
    if (arrays[i].shape != t.shape) {
      return Status::InvalidArgument(path + ": array " + std::to_string(i) + " ('" + arrays[i].name + "') has shape " +
                                     ShapeToString(arrays[i].shape) + ", the model's tensor " + std::to_string(i) +
                                     " ('" + t.name + "') is " + ShapeToString(t.shape));
    }
  }
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    std::copy(arrays[i].data.begin(), arrays[i].data.end(),
              params.begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
  }
  return Status::OK();
}

}  // namespace asyncps::models
