#include "asyncps/models/conv2d.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "gemm.h"
#include "im2col.h"
#include "winograd.h"
#include "asyncps/core/dispatch.h"
#include "asyncps/models/limits.h"

namespace asyncps::models {

namespace {
// Column workspace budget (floats): a few samples of conv2's columns fit in L2.
constexpr std::size_t kColsBudget = std::size_t{1} << 18;
// Winograd workspace budget (floats) for V or M of one block.
constexpr std::size_t kWinogradBudget = std::size_t{1} << 18;

internal::ConvGeometry Geometry(const Shape& in, const Shape& out, const Conv2DOptions& o, std::size_t pad_top,
                                std::size_t pad_left) {
  return {in.height,      in.width, in.channels, out.height,      out.width,     o.kernel_height,
          o.kernel_width, pad_top,  pad_left,    o.stride_height, o.stride_width};
}

// out[r, :] = bias for each of `rows` rows.
void FillBias(float* out, const float* bias, std::size_t rows, std::size_t cout) {
  for (std::size_t r = 0; r < rows; ++r) std::memcpy(out + r * cout, bias, cout * sizeof(float));
}

// db = column sums of d[rows, cout].
void ColumnSums(const float* d, std::size_t rows, std::size_t cout, float* db) {
  std::fill(db, db + cout, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = d + r * cout;
    for (std::size_t c = 0; c < cout; ++c) db[c] += row[c];
  }
}
internal::WinogradGeometry ForwardTiles(const Shape& in, const Shape& out, std::size_t pad_top, std::size_t pad_left) {
  return {in.height, in.width, in.channels, out.height, out.width, out.channels, pad_top, pad_left};
}

// The input gradient is a full correlation of dY with the flipped kernel.
internal::WinogradGeometry BackwardTiles(const Shape& in, const Shape& out, std::size_t pad_top, std::size_t pad_left) {
  return {out.height, out.width, out.channels, in.height, in.width, in.channels, 2 - pad_top, 2 - pad_left};
}
}  // namespace

Conv2D::Conv2D(const Conv2DOptions& options) : opt_(options) {}

Result<Shape> Conv2D::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (input.rank != 3) {
    return Status::InvalidArgument(name + " (Conv2D): needs an image input (h, w, c), got " + input.ToString() +
                                   "; remove the Flatten before it");
  }
  if (opt_.filters == 0 || opt_.kernel_height == 0 || opt_.kernel_width == 0) {
    return Status::InvalidArgument(name + " (Conv2D): filters and kernel size must be >= 1");
  }
  if (opt_.stride_height == 0 || opt_.stride_width == 0) {
    return Status::InvalidArgument(name + " (Conv2D): strides must be >= 1");
  }
  for (std::size_t v : {opt_.kernel_height, opt_.kernel_width, opt_.stride_height, opt_.stride_width})
    if (v > kMaxBufferElements)
      return Status::InvalidArgument(name + " (Conv2D): kernel size and strides must be at most " +
                                     std::to_string(kMaxBufferElements) + ", not " + std::to_string(v));
  const WindowExtent rows = SlidingWindow(input.height, opt_.kernel_height, opt_.stride_height, opt_.padding);
  const WindowExtent cols = SlidingWindow(input.width, opt_.kernel_width, opt_.stride_width, opt_.padding);
  if (rows.out == 0 || cols.out == 0) {
    return Status::InvalidArgument(name + " (Conv2D): input " + input.ToString() + " is smaller than the " +
                                   std::to_string(opt_.kernel_height) + "x" + std::to_string(opt_.kernel_width) +
                                   " kernel; use 'same' padding or a larger input");
  }
  const std::string what = name + " (Conv2D): ";
  // Every size is checked before it is used: a kernel_size of [2^32, 2^32]
  // once wrapped to a 0-element kernel (and training wrote past the buffers).
  if (!BoundedProduct({rows.out, cols.out, opt_.filters}, kMaxBufferElements)) {
    return Status::InvalidArgument(what + "output (None, " + std::to_string(rows.out) + ", " +
                                   std::to_string(cols.out) + ", " + std::to_string(opt_.filters) +
                                   ") has more than the maximum of " + std::to_string(kMaxBufferElements) +
                                   " elements per sample; reduce filters or add strides");
  }
  const Shape out = Shape::Image(rows.out, cols.out, opt_.filters);
  const bool stride1 = opt_.stride_height == 1 && opt_.stride_width == 1;
  const bool k3 =
      stride1 && opt_.kernel_height == 3 && opt_.kernel_width == 3 && input.channels <= 1024 && opt_.filters <= 1024;
  const bool winograd = k3 && (opt_.algorithm == ConvAlgorithm::kWinograd ||
                               (opt_.algorithm == ConvAlgorithm::kAuto && input.channels >= 8 && opt_.filters >= 8));
  // Auto: direct only where its loops are vectorised (filters a multiple of 8);
  // other filter counts run faster as im2col + SGEMM (LeNet's 6 filters: ~3x).
  const bool direct = stride1 && !winograd &&
                      (opt_.algorithm == ConvAlgorithm::kDirect ||
                       (opt_.algorithm == ConvAlgorithm::kAuto && input.channels <= 4 && opt_.filters % 8 == 0));
  Result<std::size_t> kernel =
      layout.TryAdd(name + "/kernel", {opt_.kernel_height, opt_.kernel_width, input.channels, opt_.filters});
  if (!kernel.ok())
    return Status::InvalidArgument(what + kernel.status().message() + "; reduce kernel_size or filters");
  // One sample's workspace (Reserve sizes a few samples' worth, at least one).
  std::optional<std::size_t> workspace = 0;
  if (winograd) {
    const std::size_t tiles = std::max(ForwardTiles(input, out, rows.pad_before, cols.pad_before).tiles(),
                                       BackwardTiles(input, out, rows.pad_before, cols.pad_before).tiles());
    workspace =
        BoundedProduct({internal::kWinogradPlanes, tiles, std::max(input.channels, opt_.filters)}, kMaxBufferElements);
  } else if (!direct) {
    workspace =
        BoundedProduct({rows.out, cols.out, opt_.kernel_height, opt_.kernel_width, input.channels}, kMaxBufferElements);
  }
  if (!workspace) {
    return Status::InvalidArgument(what + "its workspace for one sample (output " + out.ToString() + " x kernel " +
                                   std::to_string(opt_.kernel_height) + "x" + std::to_string(opt_.kernel_width) + "x" +
                                   std::to_string(input.channels) + ") has more than the maximum of " +
                                   std::to_string(kMaxBufferElements) + " elements; reduce kernel_size or add strides");
  }
  std::size_t bias = 0;
  if (opt_.use_bias) {
    Result<std::size_t> b = layout.TryAdd(name + "/bias", {opt_.filters});
    if (!b.ok()) return Status::InvalidArgument(what + b.status().message());
    bias = b.value();
  } else {
    zeros_ = AlignedBuffer(opt_.filters);
    std::fill(zeros_.data(), zeros_.data() + opt_.filters, 0.0f);
    unused_db_ = AlignedBuffer(opt_.filters);
  }
  pad_top_ = rows.pad_before;
  pad_left_ = cols.pad_before;
  in_ = input;
  out_ = out;
  name_ = name;
  winograd_ = winograd;
  direct_ = direct;
  kernel_offset_ = kernel.value();
  bias_offset_ = bias;
  return out;
}

void Conv2D::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  dw_ = grads + kernel_offset_;
  b_ = opt_.use_bias ? params + bias_offset_ : zeros_.data();
  db_ = opt_.use_bias ? grads + bias_offset_ : unused_db_.data();
}

std::size_t Conv2D::num_params() const {
  return opt_.kernel_height * opt_.kernel_width * in_.channels * opt_.filters + (opt_.use_bias ? opt_.filters : 0);
}

void Conv2D::Initialize(Rng& rng) {
  const std::size_t taps = opt_.kernel_height * opt_.kernel_width;
  const std::size_t fan_in = taps * in_.channels, fan_out = taps * opt_.filters;
  models::Initialize(opt_.kernel_initializer, {w_, fan_in * opt_.filters}, fan_in, fan_out, rng, /*stream=*/0);
  if (opt_.use_bias) models::Initialize(opt_.bias_initializer, {b_, opt_.filters}, fan_in, fan_out, rng, /*stream=*/1);
}

void Conv2D::Reserve(std::size_t max_batch) {
  if (winograd_) {
    const auto f = ForwardTiles(in_, out_, pad_top_, pad_left_);
    const auto b = BackwardTiles(in_, out_, pad_top_, pad_left_);
    const std::size_t c = in_.channels, k = opt_.filters, planes = internal::kWinogradPlanes;
    const std::size_t per_sample = planes * std::max(f.tiles(), b.tiles()) * std::max(c, k);
    chunk_ = std::clamp<std::size_t>(kWinogradBudget / per_sample, 1, std::max<std::size_t>(max_batch, 1));
    u_.Reserve(planes * c * k);
    u_flipped_.Reserve(planes * c * k);
    du_.Reserve(planes * c * k);
    v_.Reserve(chunk_ * per_sample);
    m_.Reserve(chunk_ * per_sample);
    return;
  }
  if (direct_) return;  // no workspace
  const std::size_t per_sample = out_.height * out_.width * opt_.kernel_height * opt_.kernel_width * in_.channels;
  chunk_ = std::clamp<std::size_t>(kColsBudget / std::max<std::size_t>(per_sample, 1), 1,
                                   std::max<std::size_t>(max_batch, 1));
  cols_.Reserve(chunk_ * per_sample);
}

void Conv2D::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  if (winograd_) {
    ForwardWinograd(in, out, batch);
  } else if (direct_) {
    ForwardDirect(in, out, batch);
  } else {
    ForwardIm2col(in, out, batch);
  }
}

void Conv2D::Backward(const float* in, const float* /*out*/, const float* dout, float* din, std::size_t batch) {
  ColumnSums(dout, batch * out_.height * out_.width, opt_.filters, db_);
  if (winograd_) {
    BackwardWinograd(in, dout, din, batch);
  } else if (direct_) {
    BackwardDirect(in, dout, din, batch);
  } else {
    BackwardIm2col(in, dout, din, batch);
  }
}

// The taps of output pixel (oh, ow) that fall inside the image: rows
// [y0, y1) and columns [x0, x1) of the kernel.
namespace {
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
}  // namespace

namespace {
// 8 floats; GCC lowers it to whatever vector width -march allows.
typedef float V8 __attribute__((vector_size(32)));
ASYNCPS_KERNEL_INLINE inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ASYNCPS_KERNEL_INLINE inline void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }
}  // namespace

namespace {
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
      const std::size_t ow1 = std::min(out_w, in_w + pad_left - x);
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

// Direct convolution, vectorised over blocks of 8 filters held in registers.
void Conv2D::ForwardDirect(const float* in, float* out, std::size_t batch) {
  const std::size_t c = in_.channels, k = opt_.filters, kw = opt_.kernel_width;
  const std::size_t kv = k / 8 * 8;
  if (k == 8 || k == 16 || k == 32) {
    auto f = k == 8 ? DirectForward<1> : k == 16 ? DirectForward<2> : DirectForward<4>;
    f(in, out, batch, in_.height, in_.width, c, out_.height, out_.width, opt_.kernel_height, kw, pad_top_, pad_left_,
      w_, b_);
    return;
  }
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * in_.size();
    for (std::size_t oh = 0; oh < out_.height; ++oh) {
      for (std::size_t ow = 0; ow < out_.width; ++ow) {
        float* o = out + ((n * out_.height + oh) * out_.width + ow) * k;
        const TapRange t = Taps(oh, ow, pad_top_, pad_left_, in_.height, in_.width, opt_.kernel_height, kw);
        for (std::size_t co0 = 0; co0 < kv; co0 += 8) {
          V8 acc = Load8(b_ + co0);
          for (std::size_t y = t.y0; y < t.y1; ++y) {
            for (std::size_t x = t.x0; x < t.x1; ++x) {
              const float* px = img + ((oh + y - pad_top_) * in_.width + (ow + x - pad_left_)) * c;
              const float* w = w_ + ((y * kw + x) * c) * k + co0;
              for (std::size_t ci = 0; ci < c; ++ci) acc += px[ci] * Load8(w + ci * k);
            }
          }
          Store8(o + co0, acc);
        }
        for (std::size_t co = kv; co < k; ++co) {
          float acc = b_[co];
          for (std::size_t y = t.y0; y < t.y1; ++y)
            for (std::size_t x = t.x0; x < t.x1; ++x)
              for (std::size_t ci = 0; ci < c; ++ci)
                acc += img[((oh + y - pad_top_) * in_.width + (ow + x - pad_left_)) * c + ci] *
                       w_[((y * kw + x) * c + ci) * k + co];
          o[co] = acc;
        }
      }
    }
  }
}

void Conv2D::BackwardDirect(const float* in, const float* dout, float* din, std::size_t batch) {
  const std::size_t c = in_.channels, k = opt_.filters, kh = opt_.kernel_height, kw = opt_.kernel_width;
  const std::size_t kv = k / 8 * 8;
  // Kernel gradient: for each tap, channel and block of 8 filters, one register
  // accumulates x * dY over every output pixel.
  if (k == 8 || k == 16 || k == 32) {
    auto f = k == 8 ? DirectKernelGrad<1> : k == 16 ? DirectKernelGrad<2> : DirectKernelGrad<4>;
    f(in, dout, batch, in_.height, in_.width, c, out_.height, out_.width, kh, kw, pad_top_, pad_left_, dw_);
  } else
    for (std::size_t y = 0; y < kh; ++y) {
      for (std::size_t x = 0; x < kw; ++x) {
        for (std::size_t ci = 0; ci < c; ++ci) {
          float* g = dw_ + ((y * kw + x) * c + ci) * k;
          for (std::size_t co0 = 0; co0 < kv; co0 += 8) {
            V8 acc = {};
            for (std::size_t n = 0; n < batch; ++n) {
              const float* img = in + n * in_.size();
              const float* d = dout + n * out_.size();
              for (std::size_t oh = 0; oh < out_.height; ++oh) {
                const long ih = static_cast<long>(oh + y) - static_cast<long>(pad_top_);
                if (ih < 0 || ih >= static_cast<long>(in_.height)) continue;
                const long first = static_cast<long>(pad_left_) - static_cast<long>(x);
                const std::size_t ow0 = first > 0 ? static_cast<std::size_t>(first) : 0;
                const std::size_t ow1 = std::min(out_.width, in_.width + pad_left_ - x);
                const float* row = img + static_cast<std::size_t>(ih) * in_.width * c + ci;
                const float* drow = d + oh * out_.width * k + co0;
                for (std::size_t ow = ow0; ow < ow1; ++ow) {
                  acc += row[(ow + x - pad_left_) * c] * Load8(drow + ow * k);
                }
              }
            }
            Store8(g + co0, acc);
          }
          for (std::size_t co = kv; co < k; ++co) {
            double acc = 0;
            for (std::size_t n = 0; n < batch; ++n)
              for (std::size_t oh = 0; oh < out_.height; ++oh)
                for (std::size_t ow = 0; ow < out_.width; ++ow) {
                  const long ih = static_cast<long>(oh + y) - static_cast<long>(pad_top_);
                  const long iw = static_cast<long>(ow + x) - static_cast<long>(pad_left_);
                  if (ih < 0 || iw < 0 || ih >= static_cast<long>(in_.height) || iw >= static_cast<long>(in_.width))
                    continue;
                  acc += in[n * in_.size() +
                            (static_cast<std::size_t>(ih) * in_.width + static_cast<std::size_t>(iw)) * c + ci] *
                         dout[((n * out_.height + oh) * out_.width + ow) * k + co];
                }
            g[co] = static_cast<float>(acc);
          }
        }
      }
    }
  if (din == nullptr) return;
  std::memset(din, 0, batch * in_.size() * sizeof(float));
  for (std::size_t n = 0; n < batch; ++n) {
    for (std::size_t oh = 0; oh < out_.height; ++oh) {
      for (std::size_t ow = 0; ow < out_.width; ++ow) {
        const float* d = dout + ((n * out_.height + oh) * out_.width + ow) * k;
        const TapRange t = Taps(oh, ow, pad_top_, pad_left_, in_.height, in_.width, kh, kw);
        for (std::size_t y = t.y0; y < t.y1; ++y) {
          for (std::size_t x = t.x0; x < t.x1; ++x) {
            float* di = din + n * in_.size() + ((oh + y - pad_top_) * in_.width + (ow + x - pad_left_)) * c;
            for (std::size_t ci = 0; ci < c; ++ci) {
              const float* w = w_ + ((y * kw + x) * c + ci) * k;
              float s = 0.0f;
              for (std::size_t co = 0; co < k; ++co) s += w[co] * d[co];
              di[ci] += s;
            }
          }
        }
      }
    }
  }
}

void Conv2D::ForwardWinograd(const float* in, float* out, std::size_t batch) {
  const auto g = ForwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t c = in_.channels, k = opt_.filters, t = g.tiles();
  internal::WinogradKernel(w_, c, k, u_.data());
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * t;
    internal::WinogradInput(g, in + n0 * in_.size(), cs, v_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(false, false, rows, k, c, 1.0f, v_.data() + e * rows * c, c, u_.data() + e * c * k, k, 0.0f,
                      m_.data() + e * rows * k, k);
    }
    internal::WinogradOutput(g, m_.data(), cs, b_, out + n0 * out_.size());
  }
}

void Conv2D::BackwardWinograd(const float* in, const float* dout, float* din, std::size_t batch) {
  const auto g = ForwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t c = in_.channels, k = opt_.filters, t = g.tiles();
  // Kernel gradient: dU[e] = sum over tiles of V[e]^T (A dY A^T)[e], then G^T dU G.
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * t;
    internal::WinogradInput(g, in + n0 * in_.size(), cs, v_.data());
    internal::WinogradOutputGrad(g, dout + n0 * out_.size(), cs, m_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(true, false, c, k, rows, 1.0f, v_.data() + e * rows * c, c, m_.data() + e * rows * k, k,
                      n0 == 0 ? 0.0f : 1.0f, du_.data() + e * c * k, k);
    }
  }
  internal::WinogradKernelGrad(du_.data(), c, k, dw_);
  if (din == nullptr) return;
  // Input gradient: Winograd convolution of dY with the flipped kernel.
  const auto gb = BackwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t tb = gb.tiles();
  internal::WinogradKernelFlipped(w_, c, k, u_flipped_.data());
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * tb;
    internal::WinogradInput(gb, dout + n0 * out_.size(), cs, v_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(false, false, rows, c, k, 1.0f, v_.data() + e * rows * k, k, u_flipped_.data() + e * k * c, c,
                      0.0f, m_.data() + e * rows * c, c);
    }
    internal::WinogradOutput(gb, m_.data(), cs, nullptr, din + n0 * in_.size());
  }
}

void Conv2D::ForwardIm2col(const float* in, float* out, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  const std::size_t k = g.k(), p = g.out_pixels(), cout = opt_.filters;
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    internal::Im2Col(g, in + n0 * g.in_size(), cs, cols_.data());
    float* o = out + n0 * p * cout;
    FillBias(o, b_, cs * p, cout);
    internal::Sgemm(false, false, cs * p, cout, k, 1.0f, cols_.data(), k, w_, cout, 1.0f, o, cout);
  }
}

void Conv2D::BackwardIm2col(const float* in, const float* dout, float* din, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  const std::size_t k = g.k(), p = g.out_pixels(), cout = opt_.filters;
  bool first = true;
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const float* d = dout + n0 * p * cout;
    internal::Im2Col(g, in + n0 * g.in_size(), cs, cols_.data());
    // dW (+)= cols^T x dout
    internal::Sgemm(true, false, k, cout, cs * p, 1.0f, cols_.data(), k, d, cout, first ? 0.0f : 1.0f, dw_, cout);
    first = false;
    if (din != nullptr) {
      // dcols = dout x W^T, reusing the column workspace, then scattered back.
      internal::Sgemm(false, true, cs * p, k, cout, 1.0f, d, cout, w_, cout, 0.0f, cols_.data(), k);
      float* di = din + n0 * g.in_size();
      std::memset(di, 0, cs * g.in_size() * sizeof(float));
      internal::Col2ImAdd(g, cols_.data(), cs, di);
    }
  }
}

}  // namespace asyncps::models
