#include "asyncps/models/maxpool2d.h"

#include <cstring>
#include <limits>

#include "asyncps/core/dispatch.h"

namespace asyncps::models {

namespace {
// One window cell into one output pixel's c channels: where src[ch] beats
// out[ch], take it and record base + ch as its argmax.
ASYNCPS_HOT_KERNEL
void MaxInto(const float* __restrict src, std::uint32_t base, std::size_t c, float* __restrict out,
             std::uint32_t* __restrict argmax) {
  for (std::size_t ch = 0; ch < c; ++ch) {
    const bool more = src[ch] > out[ch];
    out[ch] = more ? src[ch] : out[ch];
    argmax[ch] = more ? base + static_cast<std::uint32_t>(ch) : argmax[ch];
  }
}
}  // namespace

MaxPool2D::MaxPool2D(const PoolOptions& options) : Pool2D(options) {}

void MaxPool2D::Reserve(std::size_t max_batch) {
  if (argmax_.size() < max_batch * out_.size()) argmax_.resize(max_batch * out_.size());
}

void MaxPool2D::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t c = in_.channels, iw = in_.width;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * in_.size();
    float* o = out + n * out_.size();
    std::uint32_t* am = argmax_.data() + n * out_.size();
    for (std::size_t oh = 0; oh < out_.height; ++oh) {
      for (std::size_t ow = 0; ow < out_.width; ++ow) {
        float* orow = o + (oh * out_.width + ow) * c;
        std::uint32_t* arow = am + (oh * out_.width + ow) * c;
        for (std::size_t ch = 0; ch < c; ++ch) orow[ch] = -std::numeric_limits<float>::infinity();
        const Window win = WindowAt(oh, ow);
        for (std::size_t y = win.y0; y < win.y1; ++y) {
          for (std::size_t x = win.x0; x < win.x1; ++x) {
            const std::size_t base = (y * iw + x) * c;
            MaxInto(img + base, static_cast<std::uint32_t>(base), c, orow, arow);
          }
        }
      }
    }
  }
}

void MaxPool2D::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  std::memset(din, 0, batch * in_.size() * sizeof(float));
  for (std::size_t n = 0; n < batch; ++n) {
    const float* d = dout + n * out_.size();
    const std::uint32_t* am = argmax_.data() + n * out_.size();
    float* di = din + n * in_.size();
    for (std::size_t i = 0; i < out_.size(); ++i) di[am[i]] += d[i];
  }
}

}  // namespace asyncps::models
