#include "conv2d_direct.h"

#include <algorithm>
#include <cstring>

#include "asyncps/core/dispatch.h"

namespace asyncps::models::internal {

namespace {
// The taps of output pixel (oh, ow) that fall inside the image: rows
// [y0, y1) and columns [x0, x1) of the kernel.
struct TapRange {
  std::size_t y0, y1, x0, x1;
};
inline TapRange Taps(std::size_t oh, std::size_t ow, std::size_t pad_top, std::size_t pad_left, std::size_t in_h,
                     std::size_t in_w, std::size_t kh, std::size_t kw) {
  TapRange r;
  r.y0 = oh < pad_top ? pad_top - oh : 0;
  r.x0 = ow < pad_left ? pad_left - ow : 0;
  r.y1 = std::min(kh, in_h + pad_top - oh);
  r.x1 = std::min(kw, in_w + pad_left - ow);
  return r;
}

// 8 floats; GCC lowers it to whatever vector width -march allows.
typedef float V8 __attribute__((vector_size(32)));
ASYNCPS_KERNEL_INLINE inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ASYNCPS_KERNEL_INLINE inline void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

// One output pixel with NB*8 filters in NB registers: out = b + sum over the
// in-image taps [y0,y1)x[x0,x1) and channels of x * w. (top, left) is the input
// position of tap (0, 0), negative with padding; in-image taps never are.
template <int NB>
ASYNCPS_KERNEL_INLINE inline void DirectPixel(const float* img, std::size_t in_w, std::size_t c, const float* w,
                                              std::size_t kw, long top, long left, const TapRange& t, const float* bias,
                                              float* out) {
  V8 acc[NB];
  for (int b = 0; b < NB; ++b) acc[b] = Load8(bias + 8 * b);
  for (std::size_t y = t.y0; y < t.y1; ++y) {
    const std::size_t iy = static_cast<std::size_t>(top + static_cast<long>(y));
    for (std::size_t x = t.x0; x < t.x1; ++x) {
      const std::size_t ix = static_cast<std::size_t>(left + static_cast<long>(x));
      const float* px = img + (iy * in_w + ix) * c;
      const float* wt = w + (y * kw + x) * c * (NB * 8);
      for (std::size_t ci = 0; ci < c; ++ci) {
        const float xv = px[ci];
        for (int b = 0; b < NB; ++b) acc[b] += xv * Load8(wt + ci * (NB * 8) + 8 * b);
      }
    }
  }
  for (int b = 0; b < NB; ++b) Store8(out + 8 * b, acc[b]);
}

template <int NB>
ASYNCPS_HOT_KERNEL void DirectForward(const float* in, float* out, std::size_t batch, std::size_t in_h,
                                      std::size_t in_w, std::size_t c, std::size_t out_h, std::size_t out_w,
                                      std::size_t kh, std::size_t kw, std::size_t pad_top, std::size_t pad_left,
                                      const float* w, const float* bias) {
  const std::size_t k = NB * 8;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * in_h * in_w * c;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        const TapRange t = Taps(oh, ow, pad_top, pad_left, in_h, in_w, kh, kw);
        DirectPixel<NB>(img, in_w, c, w, kw, static_cast<long>(oh) - static_cast<long>(pad_top),
                        static_cast<long>(ow) - static_cast<long>(pad_left), t, bias,
                        out + ((n * out_h + oh) * out_w + ow) * k);
      }
    }
  }
}

// One past the last output column whose tap column x lies inside the input
// row (ow + x - pad_left < in_w), at most out_w; 0 when none does (a kernel
// wider than the padded input: kw - 1 > in_w + pad_left).
inline std::size_t TapColumnsEnd(std::size_t out_w, std::size_t in_w, std::size_t pad_left, std::size_t x) {
  const long end = static_cast<long>(in_w + pad_left) - static_cast<long>(x);
  return end > 0 ? std::min(out_w, static_cast<std::size_t>(end)) : 0;
}

// dw[y][x][ci][0:NB*8] = sum over samples and output pixels of x * dY, with
// NB independent register accumulators.
template <int NB>
ASYNCPS_HOT_KERNEL void DirectKernelGrad(const float* in, const float* dout, std::size_t batch, std::size_t in_h,
                                         std::size_t in_w, std::size_t c, std::size_t out_h, std::size_t out_w,
                                         std::size_t kh, std::size_t kw, std::size_t pad_top, std::size_t pad_left,
                                         float* dw) {
  const std::size_t k = NB * 8;
  for (std::size_t y = 0; y < kh; ++y) {
    for (std::size_t x = 0; x < kw; ++x) {
      const long first = static_cast<long>(pad_left) - static_cast<long>(x);
      const std::size_t ow0 = first > 0 ? static_cast<std::size_t>(first) : 0;
      const std::size_t ow1 = TapColumnsEnd(out_w, in_w, pad_left, x);
      for (std::size_t ci = 0; ci < c; ++ci) {
        V8 acc[NB] = {};
        for (std::size_t n = 0; n < batch; ++n) {
          const float* img = in + n * in_h * in_w * c;
          const float* d = dout + n * out_h * out_w * k;
          for (std::size_t oh = 0; oh < out_h; ++oh) {
            const long ih = static_cast<long>(oh + y) - static_cast<long>(pad_top);
            if (ih < 0 || ih >= static_cast<long>(in_h)) continue;
            const float* row = img + (static_cast<std::size_t>(ih) * in_w + x - pad_left + ow0) * c + ci;
            const float* drow = d + (oh * out_w + ow0) * k;
            for (std::size_t ow = ow0; ow < ow1; ++ow, row += c, drow += k) {
              const float xv = *row;
              for (int b = 0; b < NB; ++b) acc[b] += xv * Load8(drow + 8 * b);
            }
          }
        }
        float* g = dw + ((y * kw + x) * c + ci) * k;
        for (int b = 0; b < NB; ++b) Store8(g + 8 * b, acc[b]);
      }
    }
  }
}
}  // namespace

void DirectConvForward(const ConvGeometry& g, std::size_t filters, const float* in, std::size_t batch, const float* w,
                       const float* bias, float* out) {
  const std::size_t in_h = g.in_h, in_w = g.in_w, c = g.cin, out_h = g.out_h, out_w = g.out_w;
  const std::size_t kh = g.kh, kw = g.kw, pad_top = g.pad_top, pad_left = g.pad_left;
  const std::size_t k = filters, kv = k / 8 * 8;
  if (k == 8 || k == 16 || k == 32) {
    auto f = k == 8 ? DirectForward<1> : k == 16 ? DirectForward<2> : DirectForward<4>;
    f(in, out, batch, in_h, in_w, c, out_h, out_w, kh, kw, pad_top, pad_left, w, bias);
    return;
  }
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * g.in_size();
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        float* o = out + ((n * out_h + oh) * out_w + ow) * k;
        const TapRange t = Taps(oh, ow, pad_top, pad_left, in_h, in_w, kh, kw);
        for (std::size_t co0 = 0; co0 < kv; co0 += 8) {
          V8 acc = Load8(bias + co0);
          for (std::size_t y = t.y0; y < t.y1; ++y) {
            for (std::size_t x = t.x0; x < t.x1; ++x) {
              const float* px = img + ((oh + y - pad_top) * in_w + (ow + x - pad_left)) * c;
              const float* wt = w + ((y * kw + x) * c) * k + co0;
              for (std::size_t ci = 0; ci < c; ++ci) acc += px[ci] * Load8(wt + ci * k);
            }
          }
          Store8(o + co0, acc);
        }
        for (std::size_t co = kv; co < k; ++co) {
          float acc = bias[co];
          for (std::size_t y = t.y0; y < t.y1; ++y)
            for (std::size_t x = t.x0; x < t.x1; ++x)
              for (std::size_t ci = 0; ci < c; ++ci)
                acc += img[((oh + y - pad_top) * in_w + (ow + x - pad_left)) * c + ci] *
                       w[((y * kw + x) * c + ci) * k + co];
          o[co] = acc;
        }
      }
    }
  }
}

// For each tap, channel and block of 8 filters, one register accumulates x * dY
// over every output pixel.
void DirectConvKernelGrad(const ConvGeometry& g, std::size_t filters, const float* in, const float* dout,
                          std::size_t batch, float* dw) {
  const std::size_t in_h = g.in_h, in_w = g.in_w, c = g.cin, out_h = g.out_h, out_w = g.out_w;
  const std::size_t kh = g.kh, kw = g.kw, pad_top = g.pad_top, pad_left = g.pad_left;
  const std::size_t k = filters, kv = k / 8 * 8;
  const std::size_t in_size = g.in_size(), out_size = out_h * out_w * k;
  if (k == 8 || k == 16 || k == 32) {
    auto f = k == 8 ? DirectKernelGrad<1> : k == 16 ? DirectKernelGrad<2> : DirectKernelGrad<4>;
    f(in, dout, batch, in_h, in_w, c, out_h, out_w, kh, kw, pad_top, pad_left, dw);
    return;
  }
  for (std::size_t y = 0; y < kh; ++y) {
    for (std::size_t x = 0; x < kw; ++x) {
      for (std::size_t ci = 0; ci < c; ++ci) {
        float* gr = dw + ((y * kw + x) * c + ci) * k;
        for (std::size_t co0 = 0; co0 < kv; co0 += 8) {
          V8 acc = {};
          for (std::size_t n = 0; n < batch; ++n) {
            const float* img = in + n * in_size;
            const float* d = dout + n * out_size;
            for (std::size_t oh = 0; oh < out_h; ++oh) {
              const long ih = static_cast<long>(oh + y) - static_cast<long>(pad_top);
              if (ih < 0 || ih >= static_cast<long>(in_h)) continue;
              const long first = static_cast<long>(pad_left) - static_cast<long>(x);
              const std::size_t ow0 = first > 0 ? static_cast<std::size_t>(first) : 0;
              const std::size_t ow1 = TapColumnsEnd(out_w, in_w, pad_left, x);
              const float* row = img + static_cast<std::size_t>(ih) * in_w * c + ci;
              const float* drow = d + oh * out_w * k + co0;
              for (std::size_t ow = ow0; ow < ow1; ++ow) {
                acc += row[(ow + x - pad_left) * c] * Load8(drow + ow * k);
              }
            }
          }
          Store8(gr + co0, acc);
        }
        for (std::size_t co = kv; co < k; ++co) {
          double acc = 0;
          for (std::size_t n = 0; n < batch; ++n)
            for (std::size_t oh = 0; oh < out_h; ++oh)
              for (std::size_t ow = 0; ow < out_w; ++ow) {
                const long ih = static_cast<long>(oh + y) - static_cast<long>(pad_top);
                const long iw = static_cast<long>(ow + x) - static_cast<long>(pad_left);
                if (ih < 0 || iw < 0 || ih >= static_cast<long>(in_h) || iw >= static_cast<long>(in_w)) continue;
                acc += in[n * in_size + (static_cast<std::size_t>(ih) * in_w + static_cast<std::size_t>(iw)) * c + ci] *
                       dout[((n * out_h + oh) * out_w + ow) * k + co];
              }
          gr[co] = static_cast<float>(acc);
        }
      }
    }
  }
}

void DirectConvInputGrad(const ConvGeometry& g, std::size_t filters, const float* dout, std::size_t batch,
                         const float* w, float* din) {
  const std::size_t in_h = g.in_h, in_w = g.in_w, c = g.cin, out_h = g.out_h, out_w = g.out_w;
  const std::size_t kh = g.kh, kw = g.kw, pad_top = g.pad_top, pad_left = g.pad_left;
  const std::size_t k = filters, in_size = g.in_size();
  std::memset(din, 0, batch * in_size * sizeof(float));
  for (std::size_t n = 0; n < batch; ++n) {
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        const float* d = dout + ((n * out_h + oh) * out_w + ow) * k;
        const TapRange t = Taps(oh, ow, pad_top, pad_left, in_h, in_w, kh, kw);
        for (std::size_t y = t.y0; y < t.y1; ++y) {
          for (std::size_t x = t.x0; x < t.x1; ++x) {
            float* di = din + n * in_size + ((oh + y - pad_top) * in_w + (ow + x - pad_left)) * c;
            for (std::size_t ci = 0; ci < c; ++ci) {
              const float* wt = w + ((y * kw + x) * c + ci) * k;
              float s = 0.0f;
              for (std::size_t co = 0; co < k; ++co) s += wt[co] * d[co];
              di[ci] += s;
            }
          }
        }
      }
    }
  }
}

}  // namespace asyncps::models::internal
