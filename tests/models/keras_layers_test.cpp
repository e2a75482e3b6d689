// The layers and options Keras models bring: strided convolutions (valid and
// same), bias-free Conv2D and Dense, pooling with strides and padding, average
// pooling, sigmoid/tanh/linear activations. Each against a naive reference
// and its backward against central differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "asyncps/models/activation.h"
#include "asyncps/models/avgpool2d.h"
#include "asyncps/models/conv2d.h"
#include "asyncps/models/dense.h"
#include "asyncps/models/maxpool2d.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

// TF's same padding: the padding before the first element of an axis.
std::size_t PadBefore(std::size_t in, std::size_t k, std::size_t s, std::size_t out) {
  const long total = static_cast<long>((out - 1) * s + k) - static_cast<long>(in);
  return total > 0 ? static_cast<std::size_t>(total / 2) : 0;
}

// Straight from the definition: out[n, oh, ow, co] = b[co] + sum over taps inside the image.
std::vector<float> NaiveConv(const std::vector<float>& x, const float* w, const float* b, std::size_t batch,
                             const Shape& in, const Shape& out, std::size_t kh, std::size_t kw, std::size_t sh,
                             std::size_t sw, bool same) {
  const std::size_t pt = same ? PadBefore(in.height, kh, sh, out.height) : 0;
  const std::size_t pl = same ? PadBefore(in.width, kw, sw, out.width) : 0;
  std::vector<float> y(batch * out.size());
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t oh = 0; oh < out.height; ++oh)
      for (std::size_t ow = 0; ow < out.width; ++ow)
        for (std::size_t co = 0; co < out.channels; ++co) {
          double acc = b ? b[co] : 0.0;
          for (std::size_t y0 = 0; y0 < kh; ++y0)
            for (std::size_t x0 = 0; x0 < kw; ++x0) {
              const long ih = static_cast<long>(oh * sh + y0) - static_cast<long>(pt);
              const long iw = static_cast<long>(ow * sw + x0) - static_cast<long>(pl);
              if (ih < 0 || iw < 0 || ih >= static_cast<long>(in.height) || iw >= static_cast<long>(in.width)) continue;
              for (std::size_t ci = 0; ci < in.channels; ++ci)
                acc += double{x[n * in.size() +
                                (static_cast<std::size_t>(ih) * in.width + static_cast<std::size_t>(iw)) * in.channels +
                                ci]} *
                       w[((y0 * kw + x0) * in.channels + ci) * out.channels + co];
            }
          y[((n * out.height + oh) * out.width + ow) * out.channels + co] = static_cast<float>(acc);
        }
  return y;
}

}  // namespace

TEST_CASE("Strided and bias-free convolutions match the definition and their gradients", "[models][layers][conv2d]") {
  struct Case {
    std::size_t kh, kw, sh, sw;
    Padding padding;
    bool bias;
    Shape in;
    Shape want_out;
  };
  const std::vector<Case> cases = {
      {3, 3, 2, 2, Padding::kValid, true, Shape::Image(7, 8, 2), Shape::Image(3, 3, 3)},
      {3, 3, 2, 2, Padding::kSame, true, Shape::Image(7, 8, 2), Shape::Image(4, 4, 3)},
      {5, 5, 2, 2, Padding::kSame, false, Shape::Image(9, 6, 3), Shape::Image(5, 3, 3)},
      {5, 3, 2, 1, Padding::kSame, true, Shape::Image(6, 5, 2), Shape::Image(3, 5, 3)},
      {1, 1, 3, 3, Padding::kValid, false, Shape::Image(7, 7, 4), Shape::Image(3, 3, 3)},
      {3, 3, 1, 1, Padding::kSame, false, Shape::Image(6, 6, 9), Shape::Image(6, 6, 3)},  // stride 1 without bias
  };
  for (const Case& c : cases) {
    INFO(c.kh << "x" << c.kw << " stride " << c.sh << "x" << c.sw << (c.padding == Padding::kSame ? " same" : " valid")
              << (c.bias ? "" : " no bias"));
    Conv2D conv({.filters = 3,
                 .kernel_height = c.kh,
                 .kernel_width = c.kw,
                 .padding = c.padding,
                 .stride_height = c.sh,
                 .stride_width = c.sw,
                 .use_bias = c.bias});
    const std::size_t batch = 2;
    LayerHarness h(conv, c.in, batch);
    REQUIRE(h.out == c.want_out);
    CHECK(h.layout.num_tensors() == (c.bias ? 2u : 1u));
    CHECK(conv.num_params() == h.layout.total_size());
    const auto x = RandomVector(batch * c.in.size(), 21);
    std::vector<float> y(batch * h.out.size());
    conv.Forward(x.data(), y.data(), batch, true);
    const float* b = c.bias ? h.params.data() + c.kh * c.kw * c.in.channels * 3 : nullptr;
    const auto ref =
        NaiveConv(x, h.params.data(), b, batch, c.in, h.out, c.kh, c.kw, c.sh, c.sw, c.padding == Padding::kSame);
    CHECK(MaxRelError(y.data(), ref.data(), y.size()) < 1e-5);
    const GradCheck g = CheckLayerGradients(h, x, batch);
    CHECK(g.input_error < 2e-3);
    CHECK(g.param_error < 2e-3);
  }
}

TEST_CASE("Max and average pooling with strides and padding match the definition and their gradients",
          "[models][layers][pool]") {
  struct Case {
    std::size_t ph, pw, sh, sw;
    Padding padding;
    Shape in, want_out;
  };
  const std::vector<Case> cases = {
      {2, 2, 2, 2, Padding::kValid, Shape::Image(5, 6, 2), Shape::Image(2, 3, 2)},
      {3, 3, 2, 2, Padding::kValid, Shape::Image(7, 7, 2), Shape::Image(3, 3, 2)},  // overlapping windows
      {2, 2, 2, 2, Padding::kSame, Shape::Image(5, 5, 3), Shape::Image(3, 3, 3)},
      {3, 2, 1, 2, Padding::kSame, Shape::Image(4, 5, 2), Shape::Image(4, 3, 2)},
  };
  for (const Case& c : cases) {
    for (bool max : {true, false}) {
      INFO((max ? "max " : "avg ") << c.ph << "x" << c.pw << " stride " << c.sh << "x" << c.sw
                                   << (c.padding == Padding::kSame ? " same" : " valid"));
      const PoolOptions o{c.ph, c.pw, c.sh, c.sw, c.padding};
      MaxPool2D maxpool(o);
      AvgPool2D avgpool(o);
      Layer& pool = max ? static_cast<Layer&>(maxpool) : avgpool;
      const std::size_t batch = 2;
      LayerHarness h(pool, c.in, batch);
      REQUIRE(h.out == c.want_out);
      // Distinct values: no ties for the max (finite differences need a unique argmax).
      std::vector<float> x(batch * c.in.size());
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) * 0.1f - 5.0f;
      std::vector<float> y(batch * h.out.size());
      pool.Forward(x.data(), y.data(), batch, true);
      const std::size_t pt = c.padding == Padding::kSame ? PadBefore(c.in.height, c.ph, c.sh, h.out.height) : 0;
      const std::size_t pl = c.padding == Padding::kSame ? PadBefore(c.in.width, c.pw, c.sw, h.out.width) : 0;
      for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t oh = 0; oh < h.out.height; ++oh)
          for (std::size_t ow = 0; ow < h.out.width; ++ow)
            for (std::size_t ch = 0; ch < c.in.channels; ++ch) {
              double best = -std::numeric_limits<double>::infinity(), sum = 0;
              int count = 0;
              for (std::size_t a = 0; a < c.ph; ++a)
                for (std::size_t b = 0; b < c.pw; ++b) {
                  const long ih = static_cast<long>(oh * c.sh + a) - static_cast<long>(pt);
                  const long iw = static_cast<long>(ow * c.sw + b) - static_cast<long>(pl);
                  if (ih < 0 || iw < 0 || ih >= static_cast<long>(c.in.height) || iw >= static_cast<long>(c.in.width))
                    continue;
                  const double v =
                      x[n * c.in.size() +
                        (static_cast<std::size_t>(ih) * c.in.width + static_cast<std::size_t>(iw)) * c.in.channels +
                        ch];
                  best = std::max(best, v);
                  sum += v;
                  ++count;
                }
              const float got = y[((n * h.out.height + oh) * h.out.width + ow) * c.in.channels + ch];
              CHECK(got == Approx(max ? best : sum / count).epsilon(1e-5).margin(1e-6));
            }
      const GradCheck g = CheckLayerGradients(h, x, batch, 1e-3f);
      CHECK(g.input_error < 2e-3);
    }
  }
}

TEST_CASE("Sigmoid, tanh and linear activations and their gradients", "[models][layers][activation]") {
  for (ActivationKind k : {ActivationKind::kSigmoid, ActivationKind::kTanh, ActivationKind::kLinear}) {
    INFO(static_cast<int>(k));
    Activation act(k);
    const std::size_t batch = 3;
    LayerHarness h(act, Shape::Vector(7), batch);
    const auto x = RandomVector(batch * 7, 5, -3.0f, 3.0f);
    std::vector<float> y(x.size());
    act.Forward(x.data(), y.data(), batch, true);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = k == ActivationKind::kSigmoid ? 1.0 / (1.0 + std::exp(-double{x[i]}))
                          : k == ActivationKind::kTanh  ? std::tanh(double{x[i]})
                                                        : x[i];
      CHECK(y[i] == Approx(want).epsilon(1e-5));
    }
    const GradCheck g = CheckLayerGradients(h, x, batch, 1e-3f);
    CHECK(g.input_error < 2e-3);
  }
}

TEST_CASE("Dense without a bias has only its kernel and the right gradients", "[models][layers][dense]") {
  Dense dense(4, {.use_bias = false});
  const std::size_t batch = 3;
  LayerHarness h(dense, Shape::Vector(5), batch);
  REQUIRE(h.layout.num_tensors() == 1);
  CHECK(dense.num_params() == 20);
  const auto x = RandomVector(batch * 5, 9);
  std::vector<float> y(batch * 4);
  dense.Forward(x.data(), y.data(), batch, true);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t j = 0; j < 4; ++j) {
      double acc = 0;
      for (std::size_t i = 0; i < 5; ++i) acc += double{x[n * 5 + i]} * h.params.data()[i * 4 + j];
      CHECK(y[n * 4 + j] == Approx(acc).epsilon(1e-5));
    }
  const GradCheck g = CheckLayerGradients(h, x, batch);
  CHECK(g.input_error < 2e-3);
  CHECK(g.param_error < 2e-3);
}
