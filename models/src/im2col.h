// im2col / col2im for NHWC convolution with any stride (internal).
//
// Row r = (n, oh, ow) of the column matrix holds the receptive field in
// (kh, kw, cin) order, which matches a Keras kernel [kh, kw, cin, cout] read as
// a [kh*kw*cin, cout] matrix; out-of-image taps are zeros.
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

struct ConvGeometry {
  std::size_t in_h, in_w, cin;
  std::size_t out_h, out_w;
  std::size_t kh, kw;
  std::size_t pad_top, pad_left;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t k() const { return kh * kw * cin; }
  std::size_t in_size() const { return in_h * in_w * cin; }
  std::size_t out_pixels() const { return out_h * out_w; }
};

// cols[batch*out_h*out_w, K] from in[batch, in_h, in_w, cin].
void Im2Col(const ConvGeometry& g, const float* in, std::size_t batch, float* cols);
// din[batch, in_h, in_w, cin] += scatter of cols (the adjoint of Im2Col).
void Col2ImAdd(const ConvGeometry& g, const float* cols, std::size_t batch, float* din);

}  // namespace asyncps::models::internal
