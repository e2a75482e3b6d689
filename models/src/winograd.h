// Winograd F(2x2, 3x3) for 3x3 stride-1 convolution on NHWC data (internal).
//
// Y = A^T [ (G g G^T) . (B^T d B) ] A per 2x2 output tile: 16 multiplications
// per tile and channel pair instead of 36, so the three passes of a 3x3 conv
// (forward, input gradient, kernel gradient) each cost 2.25x fewer FLOPs than
// im2col. The element-wise products over channels become 16 SGEMMs.
//
// Layouts: transformed inputs V[16][tiles][C], transformed kernels U[16][C][K],
// products M[16][tiles][K], tiles ordered (sample, tile row, tile column).
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

struct WinogradGeometry {
  std::size_t in_h, in_w, channels;  // the convolved input (C)
  std::size_t out_h, out_w, filters; // the result (K)
  std::size_t pad_top, pad_left;     // zeros before the input; after as needed
  std::size_t m = 2;                 // output tile size: 2 for F(2x2,3x3), 4 for F(4x4,3x3)
  std::size_t tiles_h() const { return (out_h + m - 1) / m; }
  std::size_t tiles_w() const { return (out_w + m - 1) / m; }
  std::size_t tiles() const { return tiles_h() * tiles_w(); }  // per sample
};

// U[16][C][K] from a Keras kernel w[3][3][C][K].
void WinogradKernel(const float* w, std::size_t c, std::size_t k, float* u);
// U[16][K][C] for the input gradient: the kernel rotated by 180 degrees with its
// channel axes swapped, from the forward kernel w[3][3][C][K].
void WinogradKernelFlipped(const float* w, std::size_t c, std::size_t k, float* u);

// V[16][batch*tiles][C] from in[batch][in_h][in_w][C].
void WinogradInput(const WinogradGeometry& g, const float* in, std::size_t batch, float* v);
// out[batch][out_h][out_w][K] = A^T M A (+ bias when not null).
void WinogradOutput(const WinogradGeometry& g, const float* m, std::size_t batch, const float* bias,
                    float* out);
// dM[16][batch*tiles][K] = A dY A^T from dy[batch][out_h][out_w][K] (the
// adjoint of WinogradOutput; taps beyond out_h/out_w are zero).
void WinogradOutputGrad(const WinogradGeometry& g, const float* dy, std::size_t batch, float* dm);
// dw[3][3][C][K] (+)= G^T dU G from dU[16][C][K].
void WinogradKernelGrad(const float* du, std::size_t c, std::size_t k, float* dw, bool accumulate);

// F(4x4, 3x3): 6x6 input tiles, 36 transformed matrices (V[36][tiles][C],
// U[36][C][K], M[36][tiles][K]), 4x fewer multiplications than direct
// convolution. Same contracts as above. REQUIRES: g.m == 4.
void Winograd4Kernel(const float* w, std::size_t c, std::size_t k, float* u);
void Winograd4KernelFlipped(const float* w, std::size_t c, std::size_t k, float* u);
void Winograd4Input(const WinogradGeometry& g, const float* in, std::size_t batch, float* v);
void Winograd4Output(const WinogradGeometry& g, const float* m, std::size_t batch, const float* bias,
                     float* out);
void Winograd4OutputGrad(const WinogradGeometry& g, const float* dy, std::size_t batch, float* dm);
void Winograd4KernelGrad(const float* du, std::size_t c, std::size_t k, float* dw);

}  // namespace asyncps::models::internal
