// Tensor vocabulary of models/: non-owning xtensor adaptors over the flat,
// 64-byte aligned float buffers the model already owns.
//
// Nothing here allocates data: an adaptor is a pointer plus a fixed-rank shape
// (std::array), so building one inside the train step is free. Layouts:
//   activations  [batch, h, w, c]   (NHWC, Map4 / Activations)
//   conv kernel  [kh, kw, cin, cout] (Keras)
//   dense kernel [in, out]           (Keras)
//   vectors      [n]                 (biases, flat params/grads, optimizer state)
// The model's params()/grads() stay one contiguous buffer in layout order (the
// PS client commits and pulls that span); ParamTensor() gives a shaped view of
// one tensor of it by layout index.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <utility>

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512
// intrinsics (_mm512_undefined_ps, GCC bug 105593) once xsimd's kernels are
// inlined; the intrinsics header is first included here, so silencing it for
// this include region covers exactly that header and nothing of ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xtensor.hpp>
#pragma GCC diagnostic pop

#include "asyncps/core/layout.h"
#include "asyncps/models/shape.h"

namespace asyncps::models {

template <std::size_t N>
using TensorShape = std::array<std::size_t, N>;

// Mutable and read-only rank-N row-major views of a float buffer.
template <std::size_t N>
using TensorMap =
    decltype(xt::adapt(std::declval<float*>(), std::size_t{}, xt::no_ownership(), std::declval<TensorShape<N>>()));
template <std::size_t N>
using ConstTensorMap = decltype(xt::adapt(std::declval<const float*>(), std::size_t{}, xt::no_ownership(),
                                          std::declval<TensorShape<N>>()));

namespace tensor_detail {
template <std::size_t N>
constexpr std::size_t Count(const TensorShape<N>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}
}  // namespace tensor_detail

// View of `data` with `shape` (data must hold at least prod(shape) floats).
template <std::size_t N>
TensorMap<N> Map(float* data, const TensorShape<N>& shape) {
  // The pointer is passed as a prvalue so that the adaptor holds a float*, not a float*&.
  return xt::adapt(static_cast<float*>(data), tensor_detail::Count(shape), xt::no_ownership(), shape);
}
template <std::size_t N>
ConstTensorMap<N> Map(const float* data, const TensorShape<N>& shape) {
  return xt::adapt(static_cast<const float*>(data), tensor_detail::Count(shape), xt::no_ownership(), shape);
}

// Flat rank-1 views (optimizer updates, elementwise layers).
inline TensorMap<1> Map(std::span<float> s) { return Map<1>(s.data(), {s.size()}); }
inline ConstTensorMap<1> Map(std::span<const float> s) { return Map<1>(s.data(), {s.size()}); }
inline TensorMap<1> Map(float* data, std::size_t n) { return Map<1>(data, {n}); }
inline ConstTensorMap<1> Map(const float* data, std::size_t n) { return Map<1>(data, {n}); }

// A batch of activations as [batch, h, w, c] (vectors: [batch, 1, 1, n]).
inline TensorMap<4> Activations(float* data, std::size_t batch, const Shape& s) {
  return Map<4>(data, {batch, s.height, s.width, s.channels});
}
inline ConstTensorMap<4> Activations(const float* data, std::size_t batch, const Shape& s) {
  return Map<4>(data, {batch, s.height, s.width, s.channels});
}
// A batch as a matrix [batch, elements per sample] (Dense, loss, Flatten).
inline TensorMap<2> Rows(float* data, std::size_t batch, std::size_t width) { return Map<2>(data, {batch, width}); }
inline ConstTensorMap<2> Rows(const float* data, std::size_t batch, std::size_t width) {
  return Map<2>(data, {batch, width});
}

// Tensor `index` of `layout` inside the flat buffer `flat` (params() or grads()),
// with its declared shape. REQUIRES: index < layout.num_tensors(),
// layout.tensors()[index].shape.size() == N, flat.size() == layout.total_size().
template <std::size_t N>
TensorMap<N> ParamTensor(std::span<float> flat, const ParameterLayout& layout, std::size_t index) {
  TensorShape<N> shape{};
  const auto& dims = layout.tensors()[index].shape;
  for (std::size_t d = 0; d < N && d < dims.size(); ++d) shape[d] = dims[d];
  return Map<N>(flat.data() + layout.offset(index), shape);
}
template <std::size_t N>
ConstTensorMap<N> ParamTensor(std::span<const float> flat, const ParameterLayout& layout, std::size_t index) {
  TensorShape<N> shape{};
  const auto& dims = layout.tensors()[index].shape;
  for (std::size_t d = 0; d < N && d < dims.size(); ++d) shape[d] = dims[d];
  return Map<N>(flat.data() + layout.offset(index), shape);
}

}  // namespace asyncps::models
