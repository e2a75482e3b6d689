// Winograd F(4x4, 3x3) for 3x3 stride-1 convolution on NHWC data (internal).
//
// Y = A^T [ (G g G^T) . (B^T d B) ] A per 4x4 output tile of a 6x6 input tile:
// 36 multiplications per tile and channel pair instead of 144, so the three
// passes of a 3x3 conv (forward, input gradient, kernel gradient) each cost 4x
// fewer multiplications than im2col. The element-wise products over channels
// become 36 SGEMMs.
//
// Layouts: transformed inputs V[36][tiles][C], transformed kernels U[36][C][K],
// products M[36][tiles][K], tiles ordered (sample, tile row, tile column).
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

struct WinogradGeometry {
  std::size_t in_h, in_w, channels;    // the convolved input (C)
  std::size_t out_h, out_w, filters;   // the result (K)
  std::size_t pad_top, pad_left;       // zeros before the input; after as needed
  static constexpr std::size_t m = 4;  // output tile size
  std::size_t tiles_h() const { return (out_h + m - 1) / m; }
  std::size_t tiles_w() const { return (out_w + m - 1) / m; }
  std::size_t tiles() const { return tiles_h() * tiles_w(); }  // per sample
};

// Contracts: kernels U[36][C][K] from a Keras kernel w[3][3][C][K]
// (WinogradKernel), or U[36][K][C] for the input gradient: the kernel rotated
// by 180 degrees with its channel axes swapped (WinogradKernelFlipped);
// V[36][batch*tiles][C] from in[batch][in_h][in_w][C] (WinogradInput);
// out[batch][out_h][out_w][K] = A^T M A, plus bias when not null
// (WinogradOutput); dM[36][batch*tiles][K] = A dY A^T, the adjoint of
// WinogradOutput, taps beyond out_h/out_w zero (WinogradOutputGrad);
// dw[3][3][C][K] = G^T dU G from dU[36][C][K] (WinogradKernelGrad).
inline constexpr std::size_t kWinogradPlanes = 36;
void WinogradKernel(const float* w, std::size_t c, std::size_t k, float* u);
void WinogradKernelFlipped(const float* w, std::size_t c, std::size_t k, float* u);
void WinogradInput(const WinogradGeometry& g, const float* in, std::size_t batch, float* v);
void WinogradOutput(const WinogradGeometry& g, const float* m, std::size_t batch, const float* bias, float* out);
void WinogradOutputGrad(const WinogradGeometry& g, const float* dy, std::size_t batch, float* dm);
void WinogradKernelGrad(const float* du, std::size_t c, std::size_t k, float* dw);

}  // namespace asyncps::models::internal
