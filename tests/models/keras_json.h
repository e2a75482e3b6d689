// Keras model descriptions for the tests, with the keys and values Keras'
// model.to_json() writes: the Keras <= 2.2 form ("config": [layers], the input
// on the first layer, initializers as VarianceScaling) and the later Keras 2.x /
// tf.keras form ("config": {"name", "layers"} starting with an InputLayer,
// initializers by class name).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace asyncps::models::testing {

using nlohmann::json;

enum class KerasForm { kKeras22, kTfKeras };

// One layer: {"class_name", "config"}; Model() adds the form's details.
struct KerasLayer {
  std::string class_name;
  json config;
};

inline json GlorotUniformJson(KerasForm form) {
  if (form == KerasForm::kKeras22)
    return {{"class_name", "VarianceScaling"},
            {"config", {{"scale", 1.0}, {"mode", "fan_avg"}, {"distribution", "uniform"}, {"seed", nullptr}}}};
  return {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}};
}

inline json ZerosJson() { return {{"class_name", "Zeros"}, {"config", json::object()}}; }

inline KerasLayer KConv(const std::string& name, int filters, int kh, int kw, int sh = 1, int sw = 1,
                        const std::string& padding = "valid", const std::string& activation = "linear",
                        bool use_bias = true) {
  return {"Conv2D",
          {{"name", name},
           {"trainable", true},
           {"dtype", "float32"},
           {"filters", filters},
           {"kernel_size", {kh, kw}},
           {"strides", {sh, sw}},
           {"padding", padding},
           {"data_format", "channels_last"},
           {"dilation_rate", {1, 1}},
           {"groups", 1},
           {"activation", activation},
           {"use_bias", use_bias},
           {"kernel_initializer", nullptr},  // filled by Model()
           {"bias_initializer", ZerosJson()},
           {"kernel_regularizer", nullptr},
           {"bias_regularizer", nullptr},
           {"activity_regularizer", nullptr},
           {"kernel_constraint", nullptr},
           {"bias_constraint", nullptr}}};
}

inline KerasLayer KDense(const std::string& name, int units, const std::string& activation = "linear",
                         bool use_bias = true) {
  return {"Dense",
          {{"name", name},
           {"trainable", true},
           {"dtype", "float32"},
           {"units", units},
           {"activation", activation},
           {"use_bias", use_bias},
           {"kernel_initializer", nullptr},
           {"bias_initializer", ZerosJson()},
           {"kernel_regularizer", nullptr},
           {"bias_regularizer", nullptr},
           {"activity_regularizer", nullptr},
           {"kernel_constraint", nullptr},
           {"bias_constraint", nullptr}}};
}

// class_name "MaxPooling2D" or "AveragePooling2D".
inline KerasLayer KPool(const std::string& class_name, const std::string& name, int ph, int pw, int sh, int sw,
                        const std::string& padding = "valid") {
  return {class_name,
          {{"name", name},
           {"trainable", true},
           {"dtype", "float32"},
           {"pool_size", {ph, pw}},
           {"padding", padding},
           {"strides", {sh, sw}},
           {"data_format", "channels_last"}}};
}

inline KerasLayer KFlatten(const std::string& name) {
  return {"Flatten", {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"data_format", "channels_last"}}};
}

inline KerasLayer KDropout(const std::string& name, double rate) {
  return {"Dropout",
          {{"name", name},
           {"trainable", true},
           {"dtype", "float32"},
           {"rate", rate},
           {"noise_shape", nullptr},
           {"seed", nullptr}}};
}

inline KerasLayer KActivation(const std::string& name, const std::string& activation) {
  return {"Activation", {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"activation", activation}}};
}

// BatchNormalization as tf.keras writes it once built: axis as a list of the
// last axis' index (3 on images, 1 on vectors).
inline KerasLayer KBatchNorm(const std::string& name, int axis, bool center = true, bool scale = true,
                             double momentum = 0.99) {
  return {"BatchNormalization",
          {{"name", name},
           {"trainable", true},
           {"dtype", "float32"},
           {"axis", {axis}},
           {"momentum", momentum},
           {"epsilon", 0.001},
           {"center", center},
           {"scale", scale},
           {"beta_initializer", ZerosJson()},
           {"gamma_initializer", {{"class_name", "Ones"}, {"config", json::object()}}},
           {"moving_mean_initializer", ZerosJson()},
           {"moving_variance_initializer", {{"class_name", "Ones"}, {"config", json::object()}}},
           {"beta_regularizer", nullptr},
           {"gamma_regularizer", nullptr},
           {"beta_constraint", nullptr},
           {"gamma_constraint", nullptr}}};
}

// Any other layer: its class name and config fields besides name, trainable and dtype.
inline KerasLayer KLayer(const std::string& class_name, const std::string& name, json fields = json::object()) {
  fields["name"] = name;
  fields["trainable"] = true;
  fields["dtype"] = "float32";
  return {class_name, fields};
}

// The model as model.to_json() writes it. `input`: the shape without the batch
// axis, e.g. {28, 28, 1} or {784}.
inline json KerasModelJson(std::vector<KerasLayer> layers, const std::vector<int>& input, KerasForm form) {
  json batch_shape = json::array({nullptr});
  for (int d : input) batch_shape.push_back(d);
  json list = json::array();
  if (form == KerasForm::kTfKeras) {
    list.push_back({{"class_name", "InputLayer"},
                    {"config",
                     {{"batch_input_shape", batch_shape},
                      {"dtype", "float32"},
                      {"sparse", false},
                      {"ragged", false},
                      {"name", "input_1"}}}});
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    KerasLayer& l = layers[i];
    if (l.config.contains("kernel_initializer") && l.config["kernel_initializer"].is_null())
      l.config["kernel_initializer"] = GlorotUniformJson(form);
    if (form == KerasForm::kKeras22) {
      l.config.erase("groups");  // Keras 2.2 had no grouped convolutions
      if (i == 0) l.config["batch_input_shape"] = batch_shape;
    }
    list.push_back({{"class_name", l.class_name}, {"config", l.config}});
  }
  json model = {{"class_name", "Sequential"}};
  if (form == KerasForm::kKeras22) {
    model["config"] = list;
    model["keras_version"] = "2.2.4";
  } else {
    model["config"] = {{"name", "sequential"}, {"layers", list}};
    model["keras_version"] = "2.11.0";
  }
  model["backend"] = "tensorflow";
  return model;
}

// Layer names as each form's Keras gives them: "conv2d_1" (2.2) or "conv2d" (later).
inline std::string KName(const std::string& base, int n, KerasForm form) {
  if (form == KerasForm::kKeras22) return base + "_" + std::to_string(n);
  return n == 1 ? base : base + "_" + std::to_string(n - 1);
}

// The seed CNN as Dist-Keras' example builds it, with separate Activation layers.
inline json SeedCnnJson(KerasForm f) {
  return KerasModelJson(
      {KConv(KName("conv2d", 1, f), 32, 3, 3), KActivation(KName("activation", 1, f), "relu"),
       KConv(KName("conv2d", 2, f), 32, 3, 3), KActivation(KName("activation", 2, f), "relu"),
       KPool("MaxPooling2D", KName("max_pooling2d", 1, f), 2, 2, 2, 2), KFlatten(KName("flatten", 1, f)),
       KDense(KName("dense", 1, f), 225), KActivation(KName("activation", 3, f), "relu"),
       KDense(KName("dense", 2, f), 10), KActivation(KName("activation", 4, f), "softmax")},
      {28, 28, 1}, f);
}

// Same padding, strides 2, average pooling, dropout, a bias-free convolution:
// 416 + 4,608 + 18,496 + 650 = 24,170 parameters on 28x28x1.
inline json StridedCnnJson(KerasForm f) {
  return KerasModelJson({KConv(KName("conv2d", 1, f), 16, 5, 5, 2, 2, "same", "relu"),
                         KPool("AveragePooling2D", KName("average_pooling2d", 1, f), 2, 2, 2, 2, "same"),
                         KDropout(KName("dropout", 1, f), 0.25),
                         KConv(KName("conv2d", 2, f), 32, 3, 3, 1, 1, "same", "relu", /*use_bias=*/false),
                         KPool("MaxPooling2D", KName("max_pooling2d", 1, f), 3, 3, 2, 2, "valid"),
                         KFlatten(KName("flatten", 1, f)), KDense(KName("dense", 1, f), 64, "relu"),
                         KDropout(KName("dropout", 2, f), 0.5), KDense(KName("dense", 2, f), 10, "softmax")},
                        {28, 28, 1}, f);
}

// LeNet-5 (tanh, average pooling): 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.
inline json LeNetJson(KerasForm f) {
  return KerasModelJson({KConv(KName("conv2d", 1, f), 6, 5, 5, 1, 1, "same", "tanh"),
                         KPool("AveragePooling2D", KName("average_pooling2d", 1, f), 2, 2, 2, 2),
                         KConv(KName("conv2d", 2, f), 16, 5, 5, 1, 1, "valid", "tanh"),
                         KPool("AveragePooling2D", KName("average_pooling2d", 2, f), 2, 2, 2, 2),
                         KFlatten(KName("flatten", 1, f)), KDense(KName("dense", 1, f), 120, "tanh"),
                         KDense(KName("dense", 2, f), 84, "tanh"), KDense(KName("dense", 3, f), 10, "softmax")},
                        {28, 28, 1}, f);
}

// A multilayer perceptron on 784 features, sigmoid hidden units, no bias in the
// first layer: 100,352 + 1,290 = 101,642.
inline json MlpJson(KerasForm f) {
  return KerasModelJson(
      {KDense(KName("dense", 1, f), 128, "sigmoid", /*use_bias=*/false), KDropout(KName("dropout", 1, f), 0.2),
       KDense(KName("dense", 2, f), 10), KActivation(KName("activation", 1, f), "softmax")},
      {784}, f);
}

// BatchNormalization on images and vectors (with and without center), zero
// padding, Keras' ReLU and LeakyReLU layers, elu and gelu, global average
// pooling: 72 + 32 + 1,168 + 48 + 544 + 128 + 330 = 2,322 parameters on
// 28x28x1, of which 16 + 32 + 64 = 112 moving statistics (non-trainable).
inline json BatchNormCnnJson() {
  return KerasModelJson(
      {KLayer("ZeroPadding2D", "zero_padding2d", {{"padding", {{1, 1}, {1, 1}}}, {"data_format", "channels_last"}}),
       KConv("conv2d", 8, 3, 3, 2, 2, "valid", "linear", /*use_bias=*/false), KBatchNorm("batch_normalization", 3),
       KLayer("ReLU", "re_lu", {{"max_value", nullptr}, {"negative_slope", 0.0}, {"threshold", 0.0}}),
       KConv("conv2d_1", 16, 3, 3, 2, 2, "same", "elu"),
       KBatchNorm("batch_normalization_1", 3, /*center=*/false, /*scale=*/true, /*momentum=*/0.9),
       KLayer("GlobalAveragePooling2D", "global_average_pooling2d",
              {{"data_format", "channels_last"}, {"keepdims", false}}),
       KDense("dense", 32, "gelu"), KBatchNorm("batch_normalization_2", 1),
       KLayer("LeakyReLU", "leaky_re_lu", {{"alpha", 0.1}}), KDense("dense_1", 10, "softmax")},
      {28, 28, 1}, KerasForm::kTfKeras);
}

// The other activations on 784 features: a Reshape to an image, swish, global
// max pooling with keepdims, selu, softplus, softsign, hard_sigmoid, a ReLU
// layer with every option, ELU, silu, leaky_relu, exponential and a Softmax layer.
inline json ActivationsMlpJson() {
  return KerasModelJson(
      {KLayer("Reshape", "reshape", {{"target_shape", {28, 28, 1}}}), KConv("conv2d", 6, 3, 3, 1, 1, "valid", "swish"),
       KLayer("GlobalMaxPooling2D", "global_max_pooling2d", {{"data_format", "channels_last"}, {"keepdims", true}}),
       KFlatten("flatten"), KDense("dense", 16, "selu"), KDense("dense_1", 16, "softplus"),
       KDense("dense_2", 16, "softsign"), KDense("dense_3", 16, "hard_sigmoid"),
       KLayer("ReLU", "re_lu", {{"max_value", 0.8}, {"negative_slope", 0.1}, {"threshold", 0.3}}),
       KDense("dense_4", 16), KLayer("ELU", "elu", {{"alpha", 0.5}}), KActivation("activation", "silu"),
       KDense("dense_5", 16, "leaky_relu"), KDense("dense_6", 16, "exponential"), KDense("dense_7", 10),
       KLayer("Softmax", "softmax", {{"axis", -1}})},
      {784}, KerasForm::kTfKeras);
}

// Recurrent models over an image's rows (28 timesteps of 28 features): an
// LSTM's last state; a GRU's sequence into a relu SimpleRNN. Keras' counts:
// LSTM(u) 4*u*(28+u+1) (12: 1,968; 32: 7,808) + Dense(10); GRU(8) 3*8*(28+8+2)
// = 912, SimpleRNN(6) 6*(8+6+1) = 90, Dense 70.
inline json LstmRowsJson(int units = 12) {
  return KerasModelJson(
      {KLayer("Reshape", "reshape", {{"target_shape", {28, 28}}}),
       KLayer("LSTM", "lstm", {{"units", units}, {"return_sequences", false}}), KDense("dense", 10, "softmax")},
      {28, 28, 1}, KerasForm::kTfKeras);
}

// Keras 2's GRU (reset_after=false: one bias, r applied before the product).
inline json GruV1Json() {
  return KerasModelJson({KLayer("Reshape", "reshape", {{"target_shape", {28, 28}}}),
                         KLayer("GRU", "gru", {{"units", 5}, {"reset_after", false}}), KDense("dense", 10, "softmax")},
                        {28, 28, 1}, KerasForm::kTfKeras);
}

inline json GruRnnJson() {
  return KerasModelJson(
      {KLayer("Reshape", "reshape", {{"target_shape", {28, 28}}}),
       KLayer("GRU", "gru", {{"units", 8}, {"return_sequences", true}, {"reset_after", true}}),
       KLayer("SimpleRNN", "simple_rnn", {{"units", 6}, {"activation", "relu"}}), KDense("dense", 10, "softmax")},
      {28, 28, 1}, KerasForm::kTfKeras);
}

// A text classifier on 784 token ids in [0, 20): Embedding(20, 4) -> Conv1D(6, 5,
// strides 3, same) -> MaxPooling1D(4) -> AveragePooling1D(3, same) ->
// GlobalAveragePooling1D -> Dense(10): 80 + 126 + 70 parameters.
inline json TextCnnJson() {
  return KerasModelJson(
      {KLayer("Embedding", "embedding", {{"input_dim", 20}, {"output_dim", 4}}),
       KLayer("Conv1D", "conv1d",
              {{"filters", 6}, {"kernel_size", {5}}, {"strides", {3}}, {"padding", "same"}, {"activation", "tanh"}}),
       KLayer("MaxPooling1D", "max_pooling1d", {{"pool_size", {4}}, {"strides", {4}}, {"padding", "valid"}}),
       KLayer("AveragePooling1D", "average_pooling1d", {{"pool_size", {3}}, {"strides", {1}}, {"padding", "same"}}),
       KLayer("GlobalAveragePooling1D", "global_average_pooling1d", {{"keepdims", false}}),
       KDense("dense", 10, "softmax")},
      {784}, KerasForm::kTfKeras);
}

}  // namespace asyncps::models::testing
