// Graph: a Keras Functional model's layers as one Layer: a DAG with one input
// and one output whose nodes are layers (one input each) or merges (Add,
// Subtract, Multiply, Average, Maximum, Concatenate over the last axis).
//
// Nodes run in the order given, which must be topological (each node's inputs
// come before it; Keras writes model.layers that way); the parameters of the
// layer nodes are laid out in that order, Keras' get_weights() order. A node's
// gradient is the sum over its consumers (a tensor used twice gets both).
// Not thread-safe; after Reserve, Forward and Backward never allocate.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "asyncps/models/aligned_buffer.h"
#include "asyncps/models/layer.h"

namespace asyncps::models {

enum class MergeKind { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kConcatenate };

// One node. kInput (-1) in `inputs` is the graph's input.
struct GraphNode {
  static constexpr int kInput = -1;
  std::unique_ptr<Layer> layer;  // null: a merge
  MergeKind merge = MergeKind::kAdd;
  std::vector<int> inputs;  // a layer: exactly one; a merge: at least two (Subtract: two)
  std::string name;         // for errors ("add", "concatenate"); layers carry their own
};

class Graph final : public Layer {
 public:
  // `output`: the node whose value is the graph's. REQUIRES: every input index
  // is kInput or less than the node's own; output < nodes.size().
  Graph(std::vector<GraphNode> nodes, int output) : nodes_(std::move(nodes)), output_(output) {}

  const char* type_name() const override { return "Functional"; }
  const char* name_prefix() const override { return "model"; }
  // Builds every layer node on its input's shape; InvalidArgument naming the
  // merge when its inputs' shapes do not fit (Add & co.: equal; Concatenate:
  // equal but for the channels).
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  void Reserve(std::size_t max_batch) override;
  std::size_t num_params() const override;
  std::size_t num_non_trainable_params() const override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

  const std::vector<GraphNode>& nodes() const { return nodes_; }

 private:
  const Shape& ShapeOf(int node) const { return node == GraphNode::kInput ? in_ : shapes_[node]; }
  const float* ValueOf(int node, const float* in) const {
    return node == GraphNode::kInput ? in : values_[node].data();
  }
  void MergeForward(const GraphNode& n, std::size_t i, const float* in, std::size_t batch);
  // Adds dL/d(input k) of merge `i` to `grad_of(k)`.
  void MergeBackward(const GraphNode& n, std::size_t i, const float* in, float* din, std::size_t batch);
  float* GradOf(int node, float* din) { return node == GraphNode::kInput ? din : grads_[node].data(); }

  std::vector<GraphNode> nodes_;
  int output_;
  std::vector<Shape> shapes_;          // each node's output shape
  std::vector<AlignedBuffer> values_;  // each node's output, [batch, size]
  std::vector<AlignedBuffer> grads_;   // dL/d(each node's output)
  AlignedBuffer scratch_;              // a layer node's dL/d(input) before it is added up
  std::size_t widest_ = 0;             // the largest node or input size
};

}  // namespace asyncps::models
