#include "asyncps/models/avgpool2d.h"

#include <cstring>

namespace asyncps::models {

void AvgPool2D::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t c = in_.channels, iw = in_.width;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * in_.size();
    float* o = out + n * out_.size();
    for (std::size_t oh = 0; oh < out_.height; ++oh) {
      for (std::size_t ow = 0; ow < out_.width; ++ow) {
        float* orow = o + (oh * out_.width + ow) * c;
        std::memset(orow, 0, c * sizeof(float));
        const Window win = WindowAt(oh, ow);
        for (std::size_t y = win.y0; y < win.y1; ++y)
          for (std::size_t x = win.x0; x < win.x1; ++x) {
            const float* src = img + (y * iw + x) * c;
            for (std::size_t ch = 0; ch < c; ++ch) orow[ch] += src[ch];
          }
        const float inv = 1.0f / static_cast<float>((win.y1 - win.y0) * (win.x1 - win.x0));
        for (std::size_t ch = 0; ch < c; ++ch) orow[ch] *= inv;
      }
    }
  }
}

void AvgPool2D::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t c = in_.channels, iw = in_.width;
  std::memset(din, 0, batch * in_.size() * sizeof(float));
  for (std::size_t n = 0; n < batch; ++n) {
    const float* d = dout + n * out_.size();
    float* di = din + n * in_.size();
    for (std::size_t oh = 0; oh < out_.height; ++oh) {
      for (std::size_t ow = 0; ow < out_.width; ++ow) {
        const float* drow = d + (oh * out_.width + ow) * c;
        const Window win = WindowAt(oh, ow);
        const float inv = 1.0f / static_cast<float>((win.y1 - win.y0) * (win.x1 - win.x0));
        for (std::size_t y = win.y0; y < win.y1; ++y)
          for (std::size_t x = win.x0; x < win.x1; ++x) {
            float* dst = di + (y * iw + x) * c;
            for (std::size_t ch = 0; ch < c; ++ch) dst[ch] += drow[ch] * inv;
          }
      }
    }
  }
}

}  // namespace asyncps::models
