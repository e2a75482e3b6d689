#include "im2col.h"

#include <cstring>

namespace asyncps::models::internal {

namespace {
// The input column iw = ow * stride + x - pad_left of tap x (outside the image when < 0 or >= in_w).
inline long InCol(const ConvGeometry& g, std::size_t o, std::size_t x) {
  return static_cast<long>(o * g.stride_w + x) - static_cast<long>(g.pad_left);
}
inline long InRow(const ConvGeometry& g, std::size_t o, std::size_t y) {
  return static_cast<long>(o * g.stride_h + y) - static_cast<long>(g.pad_top);
}
}  // namespace

void Im2Col(const ConvGeometry& g, const float* in, std::size_t batch, float* cols) {
  const std::size_t k = g.k();
  const std::size_t c = g.cin;
  const long ih_max = static_cast<long>(g.in_h), iw_max = static_cast<long>(g.in_w);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * g.in_size();
    for (std::size_t oh = 0; oh < g.out_h; ++oh) {
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
        float* row = cols + ((n * g.out_h + oh) * g.out_w + ow) * k;
        for (std::size_t y = 0; y < g.kh; ++y) {
          const long ih = InRow(g, oh, y);
          float* dst = row + y * g.kw * c;
          if (ih < 0 || ih >= ih_max) {
            std::memset(dst, 0, g.kw * c * sizeof(float));
            continue;
          }
          const long iw0 = InCol(g, ow, 0);
          if (iw0 >= 0 && iw0 + static_cast<long>(g.kw) <= iw_max) {
            // The whole kernel row is inside: kw*cin contiguous floats.
            std::memcpy(dst, img + (ih * g.in_w + iw0) * c, g.kw * c * sizeof(float));
            continue;
          }
          for (std::size_t x = 0; x < g.kw; ++x) {
            const long iw = iw0 + static_cast<long>(x);
            if (iw < 0 || iw >= iw_max) {
              std::memset(dst + x * c, 0, c * sizeof(float));
            } else {
              std::memcpy(dst + x * c, img + (ih * g.in_w + iw) * c, c * sizeof(float));
            }
          }
        }
      }
    }
  }
}

void Col2ImAdd(const ConvGeometry& g, const float* cols, std::size_t batch, float* din) {
  const std::size_t k = g.k();
  const std::size_t c = g.cin;
  const long ih_max = static_cast<long>(g.in_h), iw_max = static_cast<long>(g.in_w);
  for (std::size_t n = 0; n < batch; ++n) {
    float* img = din + n * g.in_size();
    for (std::size_t oh = 0; oh < g.out_h; ++oh) {
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
        const float* row = cols + ((n * g.out_h + oh) * g.out_w + ow) * k;
        for (std::size_t y = 0; y < g.kh; ++y) {
          const long ih = InRow(g, oh, y);
          if (ih < 0 || ih >= ih_max) continue;
          const long iw0 = InCol(g, ow, 0);
          const float* src = row + y * g.kw * c;
          if (iw0 >= 0 && iw0 + static_cast<long>(g.kw) <= iw_max) {
            float* dst = img + (ih * g.in_w + iw0) * c;
            for (std::size_t j = 0; j < g.kw * c; ++j) dst[j] += src[j];
            continue;
          }
          for (std::size_t x = 0; x < g.kw; ++x) {
            const long iw = iw0 + static_cast<long>(x);
            if (iw < 0 || iw >= iw_max) continue;
            float* dst = img + (ih * g.in_w + iw) * c;
            for (std::size_t j = 0; j < c; ++j) dst[j] += src[x * c + j];
          }
        }
      }
    }
  }
}

}  // namespace asyncps::models::internal
