// Graph: a Functional model's DAG as one layer. Merges against their
// definitions; the whole DAG's backward (a tensor used by several nodes,
// every merge) against central differences.
#include "asyncps/models/graph.h"

#include <catch2/catch.hpp>

#include "asyncps/models/activation.h"
#include "asyncps/models/conv2d.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;

namespace {

GraphNode LayerNode(std::unique_ptr<Layer> layer, const std::string& name, int input) {
  layer->set_name(name);
  return GraphNode{std::move(layer), MergeKind::kAdd, {input}, name};
}
GraphNode MergeNode(MergeKind kind, std::vector<int> inputs, const std::string& name) {
  return GraphNode{nullptr, kind, std::move(inputs), name};
}
std::unique_ptr<Conv2D> Conv(std::size_t filters, std::size_t k) {
  return std::make_unique<Conv2D>(
      Conv2DOptions{.filters = filters, .kernel_height = k, .kernel_width = k, .padding = Padding::kSame});
}

}  // namespace

TEST_CASE("Graph adds and concatenates as Keras' merge layers do", "[models][graph]") {
  constexpr int kIn = GraphNode::kInput;
  std::vector<GraphNode> nodes;
  nodes.push_back(LayerNode(std::make_unique<Activation>(ActivationKind::kLinear), "copy", kIn));
  nodes.push_back(MergeNode(MergeKind::kAdd, {0, kIn}, "add"));
  nodes.push_back(MergeNode(MergeKind::kConcatenate, {kIn, 1}, "concatenate"));
  Graph g(std::move(nodes), 2);
  ParameterLayout layout;
  auto out = g.Build(Shape::Image(1, 2, 2), "model", layout);
  REQUIRE(out.ok());
  CHECK(out.value() == Shape::Image(1, 2, 4));
  g.Reserve(1);
  const float x[4] = {1, 2, 3, 4};  // pixel 0: (1, 2), pixel 1: (3, 4)
  float y[8];
  g.Forward(x, y, 1, false);
  CHECK(std::vector<float>(y, y + 8) == std::vector<float>{1, 2, 2, 4, 3, 4, 6, 8});
}

TEST_CASE("Graph refuses merges of shapes that do not fit, naming the merge", "[models][graph]") {
  std::vector<GraphNode> nodes;
  nodes.push_back(LayerNode(Conv(3, 1), "conv", GraphNode::kInput));
  nodes.push_back(MergeNode(MergeKind::kAdd, {0, GraphNode::kInput}, "add"));
  Graph g(std::move(nodes), 1);
  ParameterLayout layout;
  auto out = g.Build(Shape::Image(4, 4, 2), "model", layout);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message() == "add (Add): input shapes (None, 4, 4, 3) and (None, 4, 4, 2) differ");
}

TEST_CASE("Graph backward matches finite differences through every merge", "[models][graph][gradcheck]") {
  constexpr int kIn = GraphNode::kInput;
  std::vector<GraphNode> nodes;
  nodes.push_back(LayerNode(Conv(2, 3), "conv_a", kIn));                                    // 0
  nodes.push_back(LayerNode(std::make_unique<Activation>(ActivationKind::kTanh), "t", 0));  // 1
  nodes.push_back(MergeNode(MergeKind::kAdd, {1, kIn}, "add"));                             // 2: residual
  nodes.push_back(LayerNode(Conv(3, 1), "conv_b", 2));                                      // 3
  nodes.push_back(MergeNode(MergeKind::kConcatenate, {3, 2}, "concatenate"));               // 4: 5 channels
  nodes.push_back(MergeNode(MergeKind::kMultiply, {4, 4}, "multiply"));                     // 5: 4 used twice
  nodes.push_back(MergeNode(MergeKind::kSubtract, {5, 4}, "subtract"));                     // 6
  nodes.push_back(LayerNode(Conv(5, 1), "conv_c", 6));                                      // 7
  nodes.push_back(MergeNode(MergeKind::kAverage, {7, 6, 4}, "average"));                    // 8
  nodes.push_back(MergeNode(MergeKind::kMaximum, {8, 4}, "maximum"));                       // 9
  Graph g(std::move(nodes), 9);
  const std::size_t batch = 2;
  LayerHarness h(g, Shape::Image(3, 3, 2), batch);
  REQUIRE(h.out == Shape::Image(3, 3, 5));
  CHECK(h.layout.tensors()[0].name == "conv_a/kernel");
  CHECK(h.layout.tensors()[4].name == "conv_c/kernel");
  CHECK(g.num_params() == h.layout.total_size());
  const auto x = RandomVector(batch * 18, 12, -1.0f, 1.0f);
  const GradCheck c = CheckLayerGradients(h, x, batch, 1e-3f);
  CHECK(c.input_error < 5e-3);
  CHECK(c.param_error < 5e-3);
}
