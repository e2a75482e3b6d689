#include "winograd.h"

#include <cstring>

namespace asyncps::models::internal {

namespace {
// 8 floats; GCC lowers it to AVX/AVX-512 or SSE pairs, whatever -march allows.
typedef float V8 __attribute__((vector_size(32)));
inline V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

// Stands in for taps outside the image. REQUIRES (checked by Conv2D): C <= 1024.
alignas(64) constexpr float kZeros[1024] = {};

constexpr float kG[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};

// U = G g G^T for one 3x3 kernel slice g[y][x] (strided), written to u[i*4+j].
inline void KernelTile(const float g[3][3], float u[16]) {
  float t[4][3];  // G g
  for (int i = 0; i < 4; ++i)
    for (int x = 0; x < 3; ++x) t[i][x] = kG[i][0] * g[0][x] + kG[i][1] * g[1][x] + kG[i][2] * g[2][x];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) u[i * 4 + j] = t[i][0] * kG[j][0] + t[i][1] * kG[j][1] + t[i][2] * kG[j][2];
}
}  // namespace

void WinogradKernel(const float* w, std::size_t c, std::size_t k, float* u) {
  for (std::size_t ci = 0; ci < c; ++ci) {
    for (std::size_t co = 0; co < k; ++co) {
      float g[3][3], t[16];
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) g[y][x] = w[((y * 3 + x) * c + ci) * k + co];
      KernelTile(g, t);
      for (int e = 0; e < 16; ++e) u[(e * c + ci) * k + co] = t[e];
    }
  }
}

void WinogradKernelFlipped(const float* w, std::size_t c, std::size_t k, float* u) {
  for (std::size_t co = 0; co < k; ++co) {
    for (std::size_t ci = 0; ci < c; ++ci) {
      float g[3][3], t[16];
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) g[y][x] = w[(((2 - y) * 3 + (2 - x)) * c + ci) * k + co];
      KernelTile(g, t);
      for (int e = 0; e < 16; ++e) u[(e * k + co) * c + ci] = t[e];
    }
  }
}

void WinogradInput(const WinogradGeometry& g, const float* in, std::size_t batch, float* v) {
  const std::size_t c = g.channels, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * c;  // stride between the 16 V matrices
  const long ih_max = static_cast<long>(g.in_h), iw_max = static_cast<long>(g.in_w);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = in + n * g.in_h * g.in_w * c;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        const long y0 = static_cast<long>(2 * ty) - static_cast<long>(g.pad_top);
        const long x0 = static_cast<long>(2 * tx) - static_cast<long>(g.pad_left);
        const bool inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= ih_max && x0 + 4 <= iw_max;
        const float* d[4][4];
        for (int r = 0; r < 4; ++r) {
          for (int q = 0; q < 4; ++q) {
            const long y = y0 + r, x = x0 + q;
            d[r][q] = (inside || (y >= 0 && x >= 0 && y < ih_max && x < iw_max))
                          ? img + (static_cast<std::size_t>(y) * g.in_w + static_cast<std::size_t>(x)) * c
                          : kZeros;
          }
        }
        float* __restrict out = v + t * c;
        std::size_t ch0 = 0;
        for (; ch0 + 8 <= c; ch0 += 8) {
          V8 s[4][4];
          for (int q = 0; q < 4; ++q) {
            const V8 d0 = Load(d[0][q] + ch0), d1 = Load(d[1][q] + ch0);
            const V8 d2 = Load(d[2][q] + ch0), d3 = Load(d[3][q] + ch0);
            s[0][q] = d0 - d2;
            s[1][q] = d1 + d2;
            s[2][q] = d2 - d1;
            s[3][q] = d1 - d3;
          }
          for (int r = 0; r < 4; ++r) {
            const V8 a0 = s[r][0], a1 = s[r][1], a2 = s[r][2], a3 = s[r][3];
            Store(out + (r * 4 + 0) * plane + ch0, a0 - a2);
            Store(out + (r * 4 + 1) * plane + ch0, a1 + a2);
            Store(out + (r * 4 + 2) * plane + ch0, a2 - a1);
            Store(out + (r * 4 + 3) * plane + ch0, a1 - a3);
          }
        }
        {
          for (std::size_t ch = ch0; ch < c; ++ch) {
            float s[4][4];
            // B^T d: rows
            for (int q = 0; q < 4; ++q) {
              const float d0 = d[0][q][ch], d1 = d[1][q][ch], d2 = d[2][q][ch], d3 = d[3][q][ch];
              s[0][q] = d0 - d2;
              s[1][q] = d1 + d2;
              s[2][q] = d2 - d1;
              s[3][q] = d1 - d3;
            }
            // (B^T d) B: columns
            for (int r = 0; r < 4; ++r) {
              const float a0 = s[r][0], a1 = s[r][1], a2 = s[r][2], a3 = s[r][3];
              out[(r * 4 + 0) * plane + ch] = a0 - a2;
              out[(r * 4 + 1) * plane + ch] = a1 + a2;
              out[(r * 4 + 2) * plane + ch] = a2 - a1;
              out[(r * 4 + 3) * plane + ch] = a1 - a3;
            }
          }
        }
      }
    }
  }
}

void WinogradOutput(const WinogradGeometry& g, const float* m, std::size_t batch, const float* bias,
                    float* out) {
  const std::size_t k = g.filters, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * k;
  for (std::size_t n = 0; n < batch; ++n) {
    float* img = out + n * g.out_h * g.out_w * k;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        const float* src = m + t * k;
        const std::size_t oy = 2 * ty, ox = 2 * tx;
        const bool full_y = oy + 1 < g.out_h, full_x = ox + 1 < g.out_w;
        float* o00 = img + (oy * g.out_w + ox) * k;
        float* o01 = o00 + k;
        float* o10 = o00 + g.out_w * k;
        float* o11 = o10 + k;
        std::size_t co0 = 0;
        for (; co0 + 8 <= k; co0 += 8) {
          V8 s[4][2];
          for (int r = 0; r < 4; ++r) {
            const V8 a0 = Load(src + (r * 4 + 0) * plane + co0), a1 = Load(src + (r * 4 + 1) * plane + co0);
            const V8 a2 = Load(src + (r * 4 + 2) * plane + co0), a3 = Load(src + (r * 4 + 3) * plane + co0);
            s[r][0] = a0 + a1 + a2;
            s[r][1] = a1 - a2 - a3;
          }
          V8 b = {};
          if (bias != nullptr) b = Load(bias + co0);
          Store(o00 + co0, s[0][0] + s[1][0] + s[2][0] + b);
          if (full_x) Store(o01 + co0, s[0][1] + s[1][1] + s[2][1] + b);
          if (full_y) Store(o10 + co0, s[1][0] - s[2][0] - s[3][0] + b);
          if (full_x && full_y) Store(o11 + co0, s[1][1] - s[2][1] - s[3][1] + b);
        }
        for (std::size_t co = co0; co < k; ++co) {
          float s[4][2];
          for (int r = 0; r < 4; ++r) {
            const float a0 = src[(r * 4 + 0) * plane + co], a1 = src[(r * 4 + 1) * plane + co];
            const float a2 = src[(r * 4 + 2) * plane + co], a3 = src[(r * 4 + 3) * plane + co];
            s[r][0] = a0 + a1 + a2;
            s[r][1] = a1 - a2 - a3;
          }
          const float b = bias != nullptr ? bias[co] : 0.0f;
          o00[co] = s[0][0] + s[1][0] + s[2][0] + b;
          if (full_x) o01[co] = s[0][1] + s[1][1] + s[2][1] + b;
          if (full_y) o10[co] = s[1][0] - s[2][0] - s[3][0] + b;
          if (full_x && full_y) o11[co] = s[1][1] - s[2][1] - s[3][1] + b;
        }
      }
    }
  }
}

void WinogradOutputGrad(const WinogradGeometry& g, const float* dy, std::size_t batch, float* dm) {
  const std::size_t k = g.filters, th = g.tiles_h(), tw = g.tiles_w();
  const std::size_t plane = batch * g.tiles() * k;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* img = dy + n * g.out_h * g.out_w * k;
    for (std::size_t ty = 0; ty < th; ++ty) {
      for (std::size_t tx = 0; tx < tw; ++tx) {
        const std::size_t t = (n * th + ty) * tw + tx;
        float* dst = dm + t * k;
        const std::size_t oy = 2 * ty, ox = 2 * tx;
        const bool full_y = oy + 1 < g.out_h, full_x = ox + 1 < g.out_w;
        const float* d00 = img + (oy * g.out_w + ox) * k;
        const float* d01 = d00 + k;
        const float* d10 = d00 + g.out_w * k;
        const float* d11 = d10 + k;
        std::size_t co0 = 0;
        for (; co0 + 8 <= k; co0 += 8) {
          const V8 zero = {};
          const V8 y00 = Load(d00 + co0), y01 = full_x ? Load(d01 + co0) : zero;
          const V8 y10 = full_y ? Load(d10 + co0) : zero;
          const V8 y11 = full_x && full_y ? Load(d11 + co0) : zero;
          const V8 r[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
          for (int i = 0; i < 4; ++i) {
            Store(dst + (i * 4 + 0) * plane + co0, r[i][0]);
            Store(dst + (i * 4 + 1) * plane + co0, r[i][0] + r[i][1]);
            Store(dst + (i * 4 + 2) * plane + co0, r[i][0] - r[i][1]);
            Store(dst + (i * 4 + 3) * plane + co0, -r[i][1]);
          }
        }
        for (std::size_t co = co0; co < k; ++co) {
          const float y00 = d00[co], y01 = full_x ? d01[co] : 0.0f;
          const float y10 = full_y ? d10[co] : 0.0f, y11 = full_x && full_y ? d11[co] : 0.0f;
          // A dY: A = [[1,0],[1,1],[1,-1],[0,-1]] applied to rows, then columns.
          const float r[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
          for (int i = 0; i < 4; ++i) {
            dst[(i * 4 + 0) * plane + co] = r[i][0];
            dst[(i * 4 + 1) * plane + co] = r[i][0] + r[i][1];
            dst[(i * 4 + 2) * plane + co] = r[i][0] - r[i][1];
            dst[(i * 4 + 3) * plane + co] = -r[i][1];
          }
        }
      }
    }
  }
}

void WinogradKernelGrad(const float* du, std::size_t c, std::size_t k, float* dw, bool accumulate) {
  for (std::size_t ci = 0; ci < c; ++ci) {
    for (std::size_t co = 0; co < k; ++co) {
      float e[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) e[i][j] = du[((i * 4 + j) * c + ci) * k + co];
      // G^T e G: G^T is 3x4.
      float t[3][4];
      for (int y = 0; y < 3; ++y)
        for (int j = 0; j < 4; ++j)
          t[y][j] = kG[0][y] * e[0][j] + kG[1][y] * e[1][j] + kG[2][y] * e[2][j] + kG[3][y] * e[3][j];
      for (int y = 0; y < 3; ++y) {
        for (int x = 0; x < 3; ++x) {
          const float val = t[y][0] * kG[0][x] + t[y][1] * kG[1][x] + t[y][2] * kG[2][x] + t[y][3] * kG[3][x];
          float& out = dw[((y * 3 + x) * c + ci) * k + co];
          out = accumulate ? out + val : val;
        }
      }
    }
  }
}

}  // namespace asyncps::models::internal
