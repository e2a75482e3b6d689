// Direct convolution for stride-1 NHWC convolution (internal): loops over the
// output pixels and the kernel taps, no workspace.
//
// Vectorised over the filters, 8 at a time in registers (GCC vector
// extensions): it beats im2col + SGEMM for inputs of 1-4 channels with a
// multiple of 8 filters (the seed CNN's conv2d_1), where im2col rows would be a
// few floats long. 8, 16 and 32 filters run register-blocked kernels compiled
// for the CPU's vector width (asyncps/core/dispatch.h) that keep every filter of
// a pixel (forward) or of a tap (kernel gradient) in registers; other counts run
// blocks of 8 filters and a scalar tail.
//
// Layouts, as im2col.h: in and din [batch][in_h][in_w][cin]; out and dout
// [batch][out_h][out_w][filters]; a Keras kernel w and dw [kh][kw][cin][filters];
// bias [filters]. Out-of-image taps count as zeros.
//
// REQUIRES, for every function: g.stride_h == g.stride_w == 1; g.pad_top <
// g.kh and g.pad_left < g.kw; out_h = in_h + pad_top + pad_bottom - kh + 1 for
// some 0 <= pad_bottom < kh, likewise out_w (valid or same padding, as
// SlidingWindow computes them); filters >= 1; the buffers hold the sizes above
// for `batch` samples and do not overlap.
//
// Thread safety: no shared state; calls on distinct output buffers may run
// concurrently.
#pragma once

#include <cstddef>

#include "im2col.h"

namespace asyncps::models::internal {

// out[n][oh][ow][f] = bias[f] + sum over the in-image taps (y, x) and channels
// ci of in[n][oh + y - pad_top][ow + x - pad_left][ci] * w[y][x][ci][f].
void DirectConvForward(const ConvGeometry& g, std::size_t filters, const float* in, std::size_t batch, const float* w,
                       const float* bias, float* out);

// dw[y][x][ci][f] = sum over samples and output pixels of the input under tap
// (y, x) times dout (overwritten, not accumulated).
void DirectConvKernelGrad(const ConvGeometry& g, std::size_t filters, const float* in, const float* dout,
                          std::size_t batch, float* dw);

// din = the adjoint of DirectConvForward's taps applied to dout: each input
// pixel gets sum over the output pixels and taps that read it of
// w[y][x][ci][:] . dout[n][oh][ow][:] (overwritten, not accumulated).
void DirectConvInputGrad(const ConvGeometry& g, std::size_t filters, const float* dout, std::size_t batch,
                         const float* w, float* din);

}  // namespace asyncps::models::internal
