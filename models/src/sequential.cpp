#include "asyncps/models/sequential.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <utility>

#include "asyncps/core/denormals.h"
#include "asyncps/models/limits.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/softmax_cross_entropy.h"

namespace asyncps::models {

namespace {
std::string WithCommas(std::size_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

std::string Row(const std::string& a, const std::string& b, const std::string& c) {
  char line[160];
  std::snprintf(line, sizeof line, "%-29s%-26s%-10s\n", a.c_str(), b.c_str(), c.c_str());
  return line;
}
}  // namespace

Sequential::Sequential(Shape input) : input_(input) {}
Sequential::Sequential(Sequential&&) noexcept = default;
Sequential& Sequential::operator=(Sequential&&) noexcept = default;
Sequential::~Sequential() = default;

Sequential& Sequential::Add(std::unique_ptr<Layer> layer) {
  layers_.push_back(std::move(layer));
  return *this;
}

const Shape& Sequential::output_shape() const { return layers_.empty() ? input_ : layers_.back()->output_shape(); }

namespace {
// "(None, 28, 28, 1)", computed without overflowing (Shape::size() may not).
std::optional<std::size_t> SampleSize(const Shape& s) {
  return BoundedProduct({s.height, s.width, s.channels}, kMaxBufferElements);
}
}  // namespace

Status Sequential::Build(std::uint64_t seed, std::size_t max_parameters) {
  if (built_) return Status::InvalidArgument("Sequential::Build: the model is already built");
  if (layers_.empty()) return Status::InvalidArgument("Sequential::Build: the model has no layers");
  if (!SampleSize(input_)) {
    return Status::InvalidArgument("the input shape " + input_.ToString() + " has more than the maximum of " +
                                   std::to_string(kMaxBufferElements) + " elements per sample");
  }
  max_parameters = std::min(max_parameters, kMaxParameters);
  std::map<std::string, int> counts;
  ParameterLayout layout;
  Shape shape = input_;
  try {
    for (auto& layer : layers_) {
      const std::string name = !layer->name().empty() ? layer->name()
                                                      : std::string(layer->name_prefix()) + "_" +
                                                            std::to_string(++counts[layer->name_prefix()]);
      Result<Shape> out = layer->Build(shape, name, layout);
      if (!out.ok()) return out.status();
      shape = out.value();
      if (!SampleSize(shape)) {
        return Status::InvalidArgument(name + " (" + layer->type_name() + "): output " + shape.ToString() +
                                       " has more than the maximum of " + std::to_string(kMaxBufferElements) +
                                       " elements per sample");
      }
      if (layout.total_size() > max_parameters) {
        return Status::InvalidArgument(name + " (" + layer->type_name() + "): takes the model to " +
                                       std::to_string(layout.total_size()) + " parameters, more than the maximum of " +
                                       std::to_string(max_parameters));
      }
    }
    params_ = AlignedBuffer(layout.total_size());
    grads_ = AlignedBuffer(layout.total_size());
  } catch (const std::bad_alloc&) {
    return Status::InvalidArgument("cannot allocate the model's " + std::to_string(layout.total_size()) +
                                   " parameters and their gradients (" + std::to_string(layout.total_size() * 8 >> 20) +
                                   " MiB): out of memory");
  }
  layout_ = std::move(layout);
  Rng rng(seed);
  for (auto& layer : layers_) {
    layer->Bind(params_.data(), grads_.data());
    layer->Initialize(rng);
  }
  acts_.resize(layers_.size());
  built_ = true;
  return Status::OK();
}

Status Sequential::CheckInput(const float* samples, std::size_t count) const {
  return layers_.empty() ? Status::OK() : layers_.front()->CheckInput(samples, count);
}

Status Sequential::Reserve(std::size_t max_batch) {
  if (max_batch <= reserved_) return Status::OK();
  if (!built_) return Status::InvalidArgument("Sequential::Reserve: the model is not built");
  // Every layer's input and output sizes are bounded (Build), so the widest
  // activation is too; every batch buffer is a batch of one of them.
  std::size_t widest = output_shape().size();
  for (const auto& layer : layers_)
    widest = std::max({widest, layer->input_shape().size(), layer->output_shape().size()});
  if (!BoundedProduct({max_batch, widest}, kMaxBufferElements)) {
    return Status::InvalidArgument("a batch of " + std::to_string(max_batch) + " samples of up to " +
                                   std::to_string(widest) + " activations each is more than the maximum of " +
                                   std::to_string(kMaxBufferElements) + " floats per buffer; lower the batch size");
  }
  try {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i]->Reserve(max_batch);
      acts_[i].Reserve(max_batch * layers_[i]->output_shape().size());
    }
    delta_a_.Reserve(max_batch * widest);
    delta_b_.Reserve(max_batch * widest);
  } catch (const std::bad_alloc&) {
    return Status::InvalidArgument("cannot allocate the activations of a batch of " + std::to_string(max_batch) +
                                   " samples (" + std::to_string(max_batch * widest) +
                                   " floats per buffer): out of memory; lower the batch size");
  }
  reserved_ = max_batch;
  return Status::OK();
}

std::span<const float> Sequential::Forward(const float* x, std::size_t batch, bool training) {
  ScopedFlushDenormals flush;
  if (batch == 0 || !Reserve(batch).ok()) return {};
  const float* in = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->Forward(in, acts_[i].data(), batch, training);
    in = acts_[i].data();
  }
  return {in, batch * output_shape().size()};
}

double Sequential::ComputeGradients(const float* x, const float* y, std::size_t batch) {
  ScopedFlushDenormals flush;
  if (batch == 0) {
    std::fill(grads_.data(), grads_.data() + grads_.size(), 0.0f);
    return 0.0;
  }
  std::span<const float> logits = Forward(x, batch, /*training=*/true);
  if (logits.empty()) {  // a batch Reserve refuses
    std::fill(grads_.data(), grads_.data() + grads_.size(), 0.0f);
    return std::numeric_limits<double>::quiet_NaN();
  }
  float* d = delta_a_.data();
  float* other = delta_b_.data();
  const double loss = ComputeLoss(loss_, activation_, logits.data(), y, batch, num_classes(), d);
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const float* in = i == 0 ? x : acts_[i - 1].data();
    layers_[i]->Backward(in, acts_[i].data(), d, i == 0 ? nullptr : other, batch);
    std::swap(d, other);
  }
  double penalty = 0.0;
  for (const Regularized& t : regularized_)
    penalty += ApplyRegularizer(t.r, params().subspan(t.offset, t.size), grads().subspan(t.offset, t.size));
  return loss + penalty;
}

Status Sequential::AddRegularizer(const std::string& tensor, const Regularizer& r) {
  for (std::size_t i = 0; i < layout_.num_tensors(); ++i) {
    if (layout_.tensors()[i].name != tensor) continue;
    regularized_.push_back({layout_.offset(i), layout_.tensors()[i].size(), r});
    return Status::OK();
  }
  return Status::InvalidArgument("no tensor named " + tensor + " to regularize");
}

double Sequential::TrainStep(const float* x, const float* y, std::size_t batch, Optimizer& optimizer) {
  ScopedFlushDenormals flush;  // for the optimizer's step too
  const double loss = ComputeGradients(x, y, batch);
  optimizer.Step(params(), grads());
  return loss;
}

std::string Sequential::Summary() const {
  const std::string rule(65, '_');
  const std::string dbl(65, '=');
  std::string s = rule + "\n" + Row("Layer (type)", "Output Shape", "Param #") + dbl + "\n";
  int activations = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = *layers_[i];
    if (l.fused()) continue;
    if (std::string(l.name_prefix()) == "activation") ++activations;
    s += Row(l.name() + " (" + l.type_name() + ")", l.output_shape().ToString(), WithCommas(l.num_params()));
    s += rule + "\n";
  }
  // The softmax is fused into the loss; show it where Keras would.
  const std::string softmax = softmax_row_ ? *softmax_row_ : "activation_" + std::to_string(activations + 1);
  if (!softmax.empty()) {
    s += Row(softmax + " (Activation)", output_shape().ToString(), "0");
  } else {
    s.resize(s.size() - rule.size() - 1);  // the table closes with the double rule
  }
  s += dbl + "\n";
  std::size_t non_trainable = 0;
  for (const auto& l : layers_) non_trainable += l->num_non_trainable_params();
  s += "Total params: " + WithCommas(num_params()) + "\n";
  s += "Trainable params: " + WithCommas(num_params() - non_trainable) + "\n";
  s += "Non-trainable params: " + WithCommas(non_trainable) + "\n" + rule + "\n";
  return s;
}

}  // namespace asyncps::models
