#include "asyncps/models/graph.h"

#include <algorithm>

#include "asyncps/models/limits.h"

namespace asyncps::models {
namespace {

const char* MergeName(MergeKind k) {
  switch (k) {
    case MergeKind::kAdd:
      return "Add";
    case MergeKind::kSubtract:
      return "Subtract";
    case MergeKind::kMultiply:
      return "Multiply";
    case MergeKind::kAverage:
      return "Average";
    case MergeKind::kMaximum:
      return "Maximum";
    case MergeKind::kConcatenate:
      return "Concatenate";
  }
  return "?";
}

}  // namespace

Result<Shape> Graph::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  in_ = input;
  name_ = name;
  shapes_.clear();
  widest_ = input.size();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    GraphNode& n = nodes_[i];
    for (int k : n.inputs)
      if (k != GraphNode::kInput && (k < 0 || static_cast<std::size_t>(k) >= i))
        return Status::InvalidArgument(name + ": node " + std::to_string(i) + " uses a later node");
    if (n.layer != nullptr) {
      if (n.inputs.size() != 1)
        return Status::InvalidArgument(n.layer->name() + ": a layer takes one input, got " +
                                       std::to_string(n.inputs.size()));
      Result<Shape> out = n.layer->Build(ShapeOf(n.inputs[0]), n.layer->name(), layout);
      if (!out.ok()) return out.status();
      shapes_.push_back(out.value());
    } else {
      const std::string what = n.name + " (" + MergeName(n.merge) + "): ";
      if (n.inputs.size() < 2 || (n.merge == MergeKind::kSubtract && n.inputs.size() != 2))
        return Status::InvalidArgument(what + "takes " + (n.merge == MergeKind::kSubtract ? "two" : "at least two") +
                                       " inputs, got " + std::to_string(n.inputs.size()));
      Shape out = ShapeOf(n.inputs[0]);
      for (std::size_t j = 1; j < n.inputs.size(); ++j) {
        const Shape& s = ShapeOf(n.inputs[j]);
        const bool fits = n.merge == MergeKind::kConcatenate
                              ? s.rank == out.rank && s.height == out.height && s.width == out.width
                              : s == out;
        if (!fits) {
          return Status::InvalidArgument(
              what + "input shapes " + ShapeOf(n.inputs[0]).ToString() + " and " + s.ToString() +
              (n.merge == MergeKind::kConcatenate ? " differ in more than the last axis" : " differ"));
        }
        if (n.merge == MergeKind::kConcatenate) out.channels += s.channels;
      }
      shapes_.push_back(out);
    }
    const Shape& s = shapes_.back();
    if (!BoundedProduct({s.height, s.width, s.channels}, kMaxBufferElements)) {
      return Status::InvalidArgument(n.name + ": output " + s.ToString() + " has more than the maximum of " +
                                     std::to_string(kMaxBufferElements) + " elements per sample");
    }
    widest_ = std::max(widest_, s.size());
  }
  out_ = shapes_[static_cast<std::size_t>(output_)];
  return out_;
}

void Graph::Bind(float* params, float* grads) {
  for (auto& n : nodes_)
    if (n.layer) n.layer->Bind(params, grads);
}

void Graph::Initialize(Rng& rng) {
  for (auto& n : nodes_)
    if (n.layer) n.layer->Initialize(rng);
}

void Graph::Reserve(std::size_t max_batch) {
  values_.resize(nodes_.size());
  grads_.resize(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].layer) nodes_[i].layer->Reserve(max_batch);
    values_[i].Reserve(max_batch * shapes_[i].size());
    grads_[i].Reserve(max_batch * shapes_[i].size());
  }
  scratch_.Reserve(max_batch * widest_);
}

std::size_t Graph::num_params() const {
  std::size_t n = 0;
  for (const auto& node : nodes_)
    if (node.layer) n += node.layer->num_params();
  return n;
}

std::size_t Graph::num_non_trainable_params() const {
  std::size_t n = 0;
  for (const auto& node : nodes_)
    if (node.layer) n += node.layer->num_non_trainable_params();
  return n;
}

void Graph::MergeForward(const GraphNode& n, std::size_t i, const float* in, std::size_t batch) {
  float* y = values_[i].data();
  const Shape& out = shapes_[i];
  if (n.merge == MergeKind::kConcatenate) {
    const std::size_t rows = batch * out.height * out.width;
    std::size_t at = 0;
    for (int k : n.inputs) {
      const float* x = ValueOf(k, in);
      const std::size_t c = ShapeOf(k).channels;
      for (std::size_t r = 0; r < rows; ++r) std::copy(x + r * c, x + (r + 1) * c, y + r * out.channels + at);
      at += c;
    }
    return;
  }
  const std::size_t size = batch * out.size();
  const float* first = ValueOf(n.inputs[0], in);
  std::copy(first, first + size, y);
  for (std::size_t j = 1; j < n.inputs.size(); ++j) {
    const float* x = ValueOf(n.inputs[j], in);
    for (std::size_t e = 0; e < size; ++e) {
      switch (n.merge) {
        case MergeKind::kSubtract:
          y[e] -= x[e];
          break;
        case MergeKind::kMultiply:
          y[e] *= x[e];
          break;
        case MergeKind::kMaximum:
          y[e] = std::max(y[e], x[e]);
          break;
        default:  // kAdd, kAverage
          y[e] += x[e];
      }
    }
  }
  if (n.merge == MergeKind::kAverage) {
    const float scale = 1.0f / static_cast<float>(n.inputs.size());
    for (std::size_t e = 0; e < size; ++e) y[e] *= scale;
  }
}

void Graph::MergeBackward(const GraphNode& n, std::size_t i, const float* in, float* din, std::size_t batch) {
  const float* d = grads_[i].data();
  const Shape& out = shapes_[i];
  if (n.merge == MergeKind::kConcatenate) {
    const std::size_t rows = batch * out.height * out.width;
    std::size_t at = 0;
    for (int k : n.inputs) {
      const std::size_t c = ShapeOf(k).channels;
      if (float* g = GradOf(k, din))
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t ch = 0; ch < c; ++ch) g[r * c + ch] += d[r * out.channels + at + ch];
      at += c;
    }
    return;
  }
  const std::size_t size = batch * out.size();
  const float* y = values_[i].data();
  const float average = 1.0f / static_cast<float>(n.inputs.size());
  for (std::size_t j = 0; j < n.inputs.size(); ++j) {
    float* g = GradOf(n.inputs[j], din);
    if (g == nullptr) continue;
    for (std::size_t e = 0; e < size; ++e) {
      switch (n.merge) {
        case MergeKind::kSubtract:
          g[e] += j == 0 ? d[e] : -d[e];
          break;
        case MergeKind::kMultiply: {
          float others = 1.0f;  // the product of the other inputs
          for (std::size_t o = 0; o < n.inputs.size(); ++o)
            if (o != j) others *= ValueOf(n.inputs[o], in)[e];
          g[e] += d[e] * others;
          break;
        }
        case MergeKind::kMaximum: {
          // To the first input holding the maximum.
          std::size_t first = 0;
          while (ValueOf(n.inputs[first], in)[e] != y[e]) ++first;
          if (first == j) g[e] += d[e];
          break;
        }
        case MergeKind::kAverage:
          g[e] += d[e] * average;
          break;
        default:  // kAdd
          g[e] += d[e];
      }
    }
  }
}

void Graph::Forward(const float* in, float* out, std::size_t batch, bool training) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& n = nodes_[i];
    if (n.layer)
      n.layer->Forward(ValueOf(n.inputs[0], in), values_[i].data(), batch, training);
    else
      MergeForward(n, i, in, batch);
  }
  const float* y = values_[static_cast<std::size_t>(output_)].data();
  std::copy(y, y + batch * out_.size(), out);
}

void Graph::Backward(const float* in, const float*, const float* dout, float* din, std::size_t batch) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) std::fill_n(grads_[i].data(), batch * shapes_[i].size(), 0.0f);
  if (din != nullptr) std::fill_n(din, batch * in_.size(), 0.0f);
  std::copy(dout, dout + batch * out_.size(), grads_[static_cast<std::size_t>(output_)].data());
  for (std::size_t i = nodes_.size(); i-- > 0;) {
    const GraphNode& n = nodes_[i];
    if (n.layer == nullptr) {
      MergeBackward(n, i, in, din, batch);
      continue;
    }
    const int k = n.inputs[0];
    float* g = GradOf(k, din);
    float* d_in = g != nullptr ? scratch_.data() : nullptr;
    n.layer->Backward(ValueOf(k, in), values_[i].data(), grads_[i].data(), d_in, batch);
    if (g != nullptr) {
      const std::size_t size = batch * ShapeOf(k).size();
      for (std::size_t e = 0; e < size; ++e) g[e] += d_in[e];
    }
  }
}

}  // namespace asyncps::models
