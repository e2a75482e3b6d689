// SimpleRNN, LSTM and GRU: Keras' tensors and parameter counts, gradients
// against central differences for every cell and option, a hand-computed step,
// the recurrent kernel's orthogonal start, and clear refusals.
#include "asyncps/models/recurrent.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "asyncps/models/keras_model.h"
#include "keras_json.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;
using asyncps::Result;

namespace {

struct Case {
  const char* what;
  RecurrentOptions options;
};

std::vector<Case> EveryCell() {
  std::vector<Case> cases;
  for (bool seq : {false, true}) {
    cases.push_back(
        {seq ? "SimpleRNN sequences" : "SimpleRNN", {.cell = RecurrentCell::kSimpleRnn, .return_sequences = seq}});
    cases.push_back({seq ? "LSTM sequences" : "LSTM", {.cell = RecurrentCell::kLstm, .return_sequences = seq}});
    cases.push_back({seq ? "GRU sequences" : "GRU", {.cell = RecurrentCell::kGru, .return_sequences = seq}});
    cases.push_back({seq ? "GRU reset_after=false sequences" : "GRU reset_after=false",
                     {.cell = RecurrentCell::kGru, .return_sequences = seq, .reset_after = false}});
  }
  cases.push_back({"LSTM relu, hard_sigmoid",
                   {.cell = RecurrentCell::kLstm,
                    .activation = RecurrentActivation::kRelu,
                    .recurrent_activation = RecurrentActivation::kHardSigmoid}});
  cases.push_back({"GRU no bias", {.cell = RecurrentCell::kGru, .use_bias = false}});
  cases.push_back({"SimpleRNN no bias, linear",
                   {.cell = RecurrentCell::kSimpleRnn, .activation = RecurrentActivation::kLinear, .use_bias = false}});
  return cases;
}

}  // namespace

TEST_CASE("recurrent layers declare Keras' tensors in get_weights() order with Keras' counts", "[models][recurrent]") {
  struct Expect {
    RecurrentOptions options;
    const char* type;
    std::size_t params;
    std::vector<std::size_t> bias_shape;
  };
  // Keras' model.summary() for 7 features and 5 units: SimpleRNN 5*(7+5+1) = 65,
  // LSTM 4*5*(7+5+1) = 260, GRU reset_after 3*5*(7+5+2) = 210, GRU 3*5*(7+5+1) = 195.
  const Expect expect[] = {{{.cell = RecurrentCell::kSimpleRnn}, "SimpleRNN", 65, {5}},
                           {{.cell = RecurrentCell::kLstm}, "LSTM", 260, {20}},
                           {{.cell = RecurrentCell::kGru}, "GRU", 210, {2, 15}},
                           {{.cell = RecurrentCell::kGru, .reset_after = false}, "GRU", 195, {15}}};
  for (const Expect& e : expect) {
    INFO(e.type << " params " << e.params);
    Recurrent layer(5, e.options);
    ParameterLayout layout;
    Result<Shape> out = layer.Build(Shape::Sequence(9, 7), "rnn", layout);
    REQUIRE(out.ok());
    CHECK(out.value() == Shape::Vector(5));
    CHECK(std::string(layer.type_name()) == e.type);
    CHECK(layer.num_params() == e.params);
    CHECK(layout.total_size() == e.params);
    REQUIRE(layout.num_tensors() == 3);
    const std::size_t gu = e.params == 65 ? 5 : e.params == 260 ? 20 : 15;
    CHECK(layout.tensors()[0].name == "rnn/kernel");
    CHECK(layout.tensors()[0].shape == std::vector<std::size_t>{7, gu});
    CHECK(layout.tensors()[1].name == "rnn/recurrent_kernel");
    CHECK(layout.tensors()[1].shape == std::vector<std::size_t>{5, gu});
    CHECK(layout.tensors()[2].name == "rnn/bias");
    CHECK(layout.tensors()[2].shape == e.bias_shape);
  }
  Recurrent seq(4, {.cell = RecurrentCell::kLstm, .return_sequences = true});
  ParameterLayout layout;
  Result<Shape> out = seq.Build(Shape::Sequence(6, 3), "lstm", layout);
  REQUIRE(out.ok());
  CHECK(out.value() == Shape::Sequence(6, 4));
  CHECK(out.value().ToString() == "(None, 6, 4)");
}

TEST_CASE("recurrent gradients match central differences for every cell and option", "[models][recurrent]") {
  const std::size_t batch = 3, steps = 4, features = 3, units = 4;
  for (const Case& c : EveryCell()) {
    INFO(c.what);
    Recurrent layer(units, c.options);
    LayerHarness h(layer, Shape::Sequence(steps, features), batch);
    const std::vector<float> x = RandomVector(batch * steps * features, 5);
    // relu and hard sigmoid have kinks: a smaller step keeps the differences off them.
    const bool kinked = c.options.activation == RecurrentActivation::kRelu;
    GradCheck g = CheckLayerGradients(h, x, batch, kinked ? 1e-3f : 1e-2f);
    CHECK(g.input_error < 2e-3);
    CHECK(g.param_error < 2e-3);
  }
}

TEST_CASE("an LSTM step computed by hand", "[models][recurrent]") {
  // One unit, one feature, two steps: every gate's weight and bias chosen, the
  // result computed in double here.
  Recurrent layer(1, {.cell = RecurrentCell::kLstm});
  LayerHarness h(layer, Shape::Sequence(2, 1), 1);
  const float kernel[4] = {0.5f, -0.25f, 0.75f, 1.0f}, recurrent[4] = {0.1f, 0.2f, -0.3f, 0.4f},
              bias[4] = {0.0f, 1.0f, 0.1f, -0.1f};
  std::copy(kernel, kernel + 4, h.params.data());
  std::copy(recurrent, recurrent + 4, h.params.data() + 4);
  std::copy(bias, bias + 4, h.params.data() + 8);
  const float x[2] = {1.0f, -2.0f};
  float y = 0;
  layer.Forward(x, &y, 1, false);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  double hp = 0, cp = 0;
  for (float xt : x) {
    const double i = sig(kernel[0] * xt + recurrent[0] * hp + bias[0]);
    const double f = sig(kernel[1] * xt + recurrent[1] * hp + bias[1]);
    const double g = std::tanh(kernel[2] * xt + recurrent[2] * hp + bias[2]);
    const double o = sig(kernel[3] * xt + recurrent[3] * hp + bias[3]);
    cp = f * cp + i * g;
    hp = o * std::tanh(cp);
  }
  CHECK(y == Approx(hp).epsilon(1e-6));
}

TEST_CASE("recurrent layers start as Keras does: orthogonal recurrent kernel, forget bias 1", "[models][recurrent]") {
  Recurrent layer(3, {.cell = RecurrentCell::kLstm});
  ParameterLayout layout;
  REQUIRE(layer.Build(Shape::Sequence(2, 5), "lstm", layout).ok());
  std::vector<float> p(layout.total_size()), g(p.size());
  layer.Bind(p.data(), g.data());
  Rng rng(7);
  layer.Initialize(rng);
  const float* r = p.data() + 5 * 12;  // [3, 12]: rows orthonormal
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      double dot = 0;
      for (int k = 0; k < 12; ++k) dot += double{r[a * 12 + k]} * r[b * 12 + k];
      CHECK(dot == Approx(a == b ? 1.0 : 0.0).margin(1e-5));
    }
  }
  const float* bias = r + 3 * 12;
  for (int u = 0; u < 12; ++u) CHECK(bias[u] == (u >= 3 && u < 6 ? 1.0f : 0.0f));
}

TEST_CASE("recurrent layers refuse what they cannot take, naming the layer", "[models][recurrent]") {
  Recurrent layer(4, {.cell = RecurrentCell::kGru});
  ParameterLayout layout;
  Result<Shape> image = layer.Build(Shape::Image(28, 28, 1), "gru_1", layout);
  REQUIRE(!image.ok());
  CHECK(image.status().message() ==
        "gru_1 (GRU): needs a sequence input (None, timesteps, features), got (None, 28, 28, 1); add a Reshape "
        "before it");
  Recurrent none(0, {.cell = RecurrentCell::kSimpleRnn});
  Result<Shape> zero = none.Build(Shape::Sequence(3, 3), "rnn", layout);
  REQUIRE(!zero.ok());
  CHECK(zero.status().message() == "rnn (SimpleRNN): units must be >= 1");
  Recurrent huge(1u << 20, {.cell = RecurrentCell::kLstm});
  Result<Shape> big = huge.Build(Shape::Sequence(1u << 12, 3), "lstm", layout);
  REQUIRE(!big.ok());
  CHECK(big.status().message().find("reduce units or timesteps") != std::string::npos);
}

TEST_CASE("Keras files build SimpleRNN, LSTM and GRU and refuse the options asyncps lacks",
          "[models][recurrent][keras]") {
  auto model = BuildKerasModel(GruRnnJson().dump(), "gru.json", 1);
  REQUIRE(model.ok());
  const std::string summary = model.value()->Summary();
  CHECK(summary.find("gru (GRU)                    (None, 28, 8)             912") != std::string::npos);
  CHECK(summary.find("simple_rnn (SimpleRNN)       (None, 6)                 90") != std::string::npos);
  CHECK(BuildKerasModel(LstmRowsJson(32).dump(), "lstm.json", 1).value()->num_params() == 7808 + 330);

  struct Refusal {
    const char* key;
    json value;
    const char* says;
  };
  const Refusal refusals[] = {{"dropout", 0.2, "dropout = 0.2: not supported by asyncps (expected 0)"},
                              {"recurrent_dropout", 0.1, "recurrent_dropout = 0.1: not supported"},
                              {"go_backwards", true, "go_backwards = true: not supported by asyncps (expected false)"},
                              {"stateful", true, "stateful = true"},
                              {"return_state", true, "return_state = true"},
                              {"recurrent_constraint", json{{"class_name", "NonNeg"}}, "recurrent_constraint = "},
                              {"activation", "softmax", "recurrent layers support tanh, sigmoid, relu, linear and"},
                              {"recurrent_activation", "gelu", "recurrent_activation = \"gelu\""},
                              {"units", 0, "units"}};
  for (const Refusal& r : refusals) {
    INFO(r.key);
    json m = LstmRowsJson();
    for (json& l : m["config"]["layers"])
      if (l["class_name"] == "LSTM") l["config"][r.key] = r.value;
    auto refused = BuildKerasModel(m.dump(), "lstm.json", 1);
    REQUIRE(!refused.ok());
    CHECK_THAT(refused.status().message(), Catch::Contains("'lstm' (LSTM)") && Catch::Contains(r.says));
  }
  // A sequence input declared in the file, and a recurrent layer on an image.
  json seq = LstmRowsJson();
  seq["config"]["layers"].erase(1);  // the Reshape
  auto direct = BuildKerasModel(seq.dump(), "seq.json", 1);
  REQUIRE(!direct.ok());
  CHECK_THAT(direct.status().message(), Catch::Contains("needs a sequence input (None, timesteps, features), got "
                                                        "(None, 28, 28, 1); add a Reshape before it"));
  seq["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, 28, 28};
  auto rows = BuildKerasModel(seq.dump(), "seq.json", 1);
  REQUIRE(rows.ok());
  CHECK(rows.value()->input_shape() == Shape::Sequence(28, 28));
}
