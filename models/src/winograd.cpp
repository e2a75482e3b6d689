// Winograd F(4x4, 3x3) (Lavin & Gray 2016): Y = A^T [(G g G^T) . (B^T d B)] A
// with 6x6 tiles.
#include <cstring>
#include <vector>

#include "winograd.h"
#include "asyncps/core/dispatch.h"

namespace asyncps::models::internal {

namespace {
typedef float V8 __attribute__((vector_size(32)));
// Loads and stores as function objects, so that the templates below inline them.
struct LoadV8 {
  ASYNCPS_KERNEL_INLINE V8 operator()(const float* p) const {
    V8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
};
struct StoreV8 {
  ASYNCPS_KERNEL_INLINE void operator()(float* p, V8 v) const { std::memcpy(p, &v, sizeof v); }
};
struct LoadF {
  float operator()(const float* p) const { return *p; }
};
struct StoreF {
  void operator()(float* p, float v) const { *p = v; }
};

alignas(64) constexpr float kZeros[1024] = {};

constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};

// r = B^T d for 6 values (one column or row of a tile).
template <typename T>
ASYNCPS_KERNEL_INLINE inline void BT(const T d[6], T r[6]) {
  r[0] = 4 * d[0] - 5 * d[2] + d[4];
  r[1] = -4 * d[1] - 4 * d[2] + d[3] + d[4];
  r[2] = 4 * d[1] - 4 * d[2] - d[3] + d[4];
  r[3] = -2 * d[1] - d[2] + 2 * d[3] + d[4];
  r[4] = 2 * d[1] - d[2] - 2 * d[3] + d[4];
  r[5] = 4 * d[1] - 5 * d[3] + d[5];
}

// o = A^T m: 4 values from 6.
template <typename T>
ASYNCPS_KERNEL_INLINE inline void AT(const T m[6], T o[4]) {
  const T s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
  o[0] = m[0] + s12 + s34;
  o[1] = d12 + 2 * d34;
  o[2] = s12 + 4 * s34;
  o[3] = d12 + 8 * d34 + m[5];
}

// r = A y: 6 values from 4 (the adjoint of AT).
template <typename T>
ASYNCPS_KERNEL_INLINE inline void A(const T y[4], T r[6]) {
  r[0] = y[0];
  r[1] = y[0] + y[1] + y[2] + y[3];
  r[2] = y[0] - y[1] + y[2] - y[3];
  r[3] = y[0] + 2 * y[1] + 4 * y[2] + 8 * y[3];
  r[4] = y[0] - 2 * y[1] + 4 * y[2] - 8 * y[3];
  r[5] = y[3];
}

// One tile's 6x6 input (pointers to C-vectors) to 36 planes, channels [c0, c0+W).
template <typename T, typename LoadF, typename StoreF>
ASYNCPS_KERNEL_INLINE inline void InputTile(const float* const d[6][6], std::size_t ch, float* out, std::size_t plane,
                                            LoadF load, StoreF store) {
  T s[6][6];
  for (int q = 0; q < 6; ++q) {
    T col[6], r[6];
    for (int r6 = 0; r6 < 6; ++r6) col[r6] = load(d[r6][q] + ch);
    BT(col, r);
    for (int i = 0; i < 6; ++i) s[i][q] = r[i];
  }
  for (int i = 0; i < 6; ++i) {
    T r[6];
    BT(s[i], r);
    for (int j = 0; j < 6; ++j) store(out + (i * 6 + j) * plane + ch, r[j]);
  }
}
}  // namespace

ASYNCPS_HOT_KERNEL
void WinogradKernel(const float* w, std::size_t c, std::size_t k, float* u) {
  // G g G^T for 8 filters at a time (vectorised over the output channel).
  const auto tile = [&](auto zero, auto load, auto store, std::size_t ci, std::size_t co) ASYNCPS_KERNEL_INLINE {
    using T = decltype(zero);
    T g[3][3];
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) g[y][x] = load(w + ((y * 3 + x) * c + ci) * k + co);
    T t[6][3];
    for (int i = 0; i < 6; ++i)
      for (int x = 0; x < 3; ++x)
        t[i][x] = static_cast<float>(kG[i][0]) * g[0][x] + static_cast<float>(kG[i][1]) * g[1][x] +
                  static_cast<float>(kG[i][2]) * g[2][x];
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j)
        store(u + ((i * 6 + j) * c + ci) * k + co, t[i][0] * static_cast<float>(kG[j][0]) +
                                                       t[i][1] * static_cast<float>(kG[j][1]) +
                                                       t[i][2] * static_cast<float>(kG[j][2]));
  };
  for (std::size_t ci = 0; ci < c; ++ci) {
    std::size_t co = 0;
    for (; co + 8 <= k; co += 8) tile(V8{}, LoadV8{}, StoreV8{}, ci, co);
    for (; co < k; ++co) tile(0.0f, LoadF{}, StoreF{}, ci, co);
  }
}

void WinogradKernelFlipped(const float* w, std::size_t c, std::size_t k, float* u) {
  // The rotated, channel-swapped kernel w'[y][x][co][ci] = w[2-y][2-x][ci][co],
  // then the same transform with the roles of C and K exchanged.
  thread_local std::vector<float> flipped;
  flipped.resize(9 * c * k);
  for (std::size_t y = 0; y < 3; ++y)
    for (std::size_t x = 0; x < 3; ++x)
      for (std::size_t ci = 0; ci < c; ++ci)
        for (std::size_t co = 0; co < k; ++co)
          flipped[((y * 3 + x) * k + co) * c + ci] = w[(((2 - y) * 3 + (2 - x)) * c + ci) * k + co];
  WinogradKernel(flipped.data(), k, c, u);
}

ASYNCPS_HOT_KERNEL
void WinogradInput(const WinogradGeometry& g, const float* in, std::size_t batch, float* v) {
  const std::size_t c = g.channels, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * c;
  const long ih_max = static_cast<long>(g.in_h), iw_max = static_cast<long>(g.in_w);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * g.in_h * g.in_w * c;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        const long y0 = static_cast<long>(4 * ty) - static_cast<long>(g.pad_top);
        const long x0 = static_cast<long>(4 * tx) - static_cast<long>(g.pad_left);
        const float* d[6][6];
        for (int r = 0; r < 6; ++r) {
          for (int q = 0; q < 6; ++q) {
            const long y = y0 + r, x = x0 + q;
            d[r][q] = (y >= 0 && x >= 0 && y < ih_max && x < iw_max)
                          ? img + (static_cast<std::size_t>(y) * g.in_w + static_cast<std::size_t>(x)) * c
                          : kZeros;
          }
        }
        float* out = v + t * c;
        std::size_t ch = 0;
        for (; ch + 8 <= c; ch += 8) InputTile<V8>(d, ch, out, plane, LoadV8{}, StoreV8{});
        for (; ch < c; ++ch) InputTile<float>(d, ch, out, plane, LoadF{}, StoreF{});
      }
    }
  }
}

ASYNCPS_HOT_KERNEL
void WinogradOutput(const WinogradGeometry& g, const float* m, std::size_t batch, const float* bias, float* out) {
  const std::size_t k = g.filters, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * k;
  for (std::size_t n = 0; n < batch; ++n) {
    float* img = out + n * g.out_h * g.out_w * k;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        const float* src = m + t * k;
        const std::size_t oy = 4 * ty, ox = 4 * tx;
        const std::size_t ny = g.out_h - oy < 4 ? g.out_h - oy : 4;
        const std::size_t nx = g.out_w - ox < 4 ? g.out_w - ox : 4;
        auto tile = [&](auto zero, auto load, auto store, std::size_t co) ASYNCPS_KERNEL_INLINE {
          using T = decltype(zero);
          T s[4][6];
          for (int j = 0; j < 6; ++j) {
            T col[6], o[4];
            for (int i = 0; i < 6; ++i) col[i] = load(src + (i * 6 + j) * plane + co);
            AT(col, o);
            for (int i = 0; i < 4; ++i) s[i][j] = o[i];
          }
          const T b = bias != nullptr ? load(bias + co) : zero;
          for (std::size_t i = 0; i < ny; ++i) {
            T o[4];
            AT(s[i], o);
            for (std::size_t j = 0; j < nx; ++j) store(img + ((oy + i) * g.out_w + ox + j) * k + co, o[j] + b);
          }
        };
        std::size_t co = 0;
        for (; co + 8 <= k; co += 8) tile(V8{}, LoadV8{}, StoreV8{}, co);
        for (; co < k; ++co) tile(0.0f, LoadF{}, StoreF{}, co);
      }
    }
  }
}

ASYNCPS_HOT_KERNEL
void WinogradOutputGrad(const WinogradGeometry& g, const float* dy, std::size_t batch, float* dm) {
  const std::size_t k = g.filters, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * k;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = dy + n * g.out_h * g.out_w * k;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        float* dst = dm + t * k;
        const std::size_t oy = 4 * ty, ox = 4 * tx;
        const std::size_t ny = g.out_h - oy < 4 ? g.out_h - oy : 4;
        const std::size_t nx = g.out_w - ox < 4 ? g.out_w - ox : 4;
        auto tile = [&](auto zero, auto load, auto store, std::size_t co) ASYNCPS_KERNEL_INLINE {
          using T = decltype(zero);
          T y[4][4];
          for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t j = 0; j < 4; ++j)
              y[i][j] = (i < ny && j < nx) ? load(img + ((oy + i) * g.out_w + ox + j) * k + co) : zero;
          T r[6][4];  // A applied to the columns
          for (int j = 0; j < 4; ++j) {
            T col[4] = {y[0][j], y[1][j], y[2][j], y[3][j]}, o[6];
            A(col, o);
            for (int i = 0; i < 6; ++i) r[i][j] = o[i];
          }
          for (int i = 0; i < 6; ++i) {
            T o[6];
            A(r[i], o);
            for (int j = 0; j < 6; ++j) store(dst + (i * 6 + j) * plane + co, o[j]);
          }
        };
        std::size_t co = 0;
        for (; co + 8 <= k; co += 8) tile(V8{}, LoadV8{}, StoreV8{}, co);
        for (; co < k; ++co) tile(0.0f, LoadF{}, StoreF{}, co);
      }
    }
  }
}

ASYNCPS_HOT_KERNEL
void WinogradKernelGrad(const float* du, std::size_t c, std::size_t k, float* dw) {
  for (std::size_t ci = 0; ci < c; ++ci) {
    for (std::size_t co = 0; co < k; ++co) {
      double t[3][6];
      for (int y = 0; y < 3; ++y)
        for (int j = 0; j < 6; ++j) {
          double acc = 0;
          for (int i = 0; i < 6; ++i) acc += kG[i][y] * du[((i * 6 + j) * c + ci) * k + co];
          t[y][j] = acc;
        }
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) {
          double acc = 0;
          for (int j = 0; j < 6; ++j) acc += t[y][j] * kG[j][x];
          dw[((y * 3 + x) * c + ci) * k + co] = static_cast<float>(acc);
        }
    }
  }
}

}  // namespace asyncps::models::internal
