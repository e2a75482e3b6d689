#include "asyncps/models/keras_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "asyncps/models/activation.h"
#include "asyncps/models/avgpool2d.h"
#include "asyncps/models/batch_norm.h"
#include "asyncps/models/conv2d.h"
#include "asyncps/models/dense.h"
#include "asyncps/models/dropout.h"
#include "asyncps/models/embedding.h"
#include "asyncps/models/flatten.h"
#include "asyncps/models/global_pool2d.h"
#include "asyncps/models/graph.h"
#include "asyncps/models/keras_h5.h"
#include "asyncps/models/limits.h"
#include "asyncps/models/maxpool2d.h"
#include "asyncps/models/recurrent.h"
#include "asyncps/models/relu.h"
#include "asyncps/models/reshape.h"
#include "asyncps/models/weights.h"
#include "asyncps/models/zero_padding2d.h"

namespace asyncps::models {
namespace {

using nlohmann::json;

// The error prefix for one layer: "<file>: layer 3 'conv2d_1' (Conv2D): ".
struct Where {
  std::string source;
  std::size_t index = 0;
  std::string name;
  std::string type;
  std::string operator()() const {
    return source + ": layer " + std::to_string(index) + " '" + name + "' (" + type + "): ";
  }
};

Status Refuse(const Where& w, const std::string& field, const json& value, const std::string& why) {
  return Status::InvalidArgument(w() + field + " = " + value.dump() + ": " + why);
}

// A field that may be absent or null.
const json* Field(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

// An integer in [1, kMaxBufferElements]: every size a layer takes (a larger
// one could only make a tensor or activation larger than the maximum, and its
// products could overflow).
bool InRange(const json& x) {
  if (x.is_number_unsigned()) return x.get<std::uint64_t>() >= 1 && x.get<std::uint64_t>() <= kMaxBufferElements;
  return x.is_number_integer() && x.get<std::int64_t>() >= 1 &&
         static_cast<std::uint64_t>(x.get<std::int64_t>()) <= kMaxBufferElements;
}

Result<std::size_t> PositiveInt(const Where& w, const json& config, const char* key,
                                std::optional<std::size_t> fallback) {
  const json* v = Field(config, key);
  if (v == nullptr) {
    if (fallback) return *fallback;
    return Status::InvalidArgument(w() + "field '" + key + "' is missing");
  }
  if (!InRange(*v)) return Refuse(w, key, *v, "expected an integer in [1, " + std::to_string(kMaxBufferElements) + "]");
  return v->get<std::size_t>();
}

// Keras writes sizes and strides as [h, w] (or one integer for both).
Result<std::pair<std::size_t, std::size_t>> Pair(const Where& w, const json& config, const char* key,
                                                 std::optional<std::pair<std::size_t, std::size_t>> fallback) {
  const json* v = Field(config, key);
  if (v == nullptr) {
    if (fallback) return *fallback;
    return Status::InvalidArgument(w() + "field '" + key + "' is missing");
  }
  if (InRange(*v)) return std::pair{v->get<std::size_t>(), v->get<std::size_t>()};
  if (v->is_array() && v->size() == 2 && InRange((*v)[0]) && InRange((*v)[1]))
    return std::pair{(*v)[0].get<std::size_t>(), (*v)[1].get<std::size_t>()};
  return Refuse(w, key, *v, "expected two integers in [1, " + std::to_string(kMaxBufferElements) + "]");
}

// A name a Keras file may hold in one field and what it stands for. Each table
// of these below is the only list of the names asyncps accepts there: the
// lookups and the "supported" lists of the refusals both read it, so that
// accepting a new name is adding a row.
template <class T>
struct Named {
  std::string_view name;
  T value;
  bool listed = true;  // false: another spelling of the row before, left out of the refusals' lists
};

// The row called `name`, or nullptr.
template <class T, std::size_t N>
const Named<T>* Find(const Named<T> (&table)[N], std::string_view name) {
  for (const Named<T>& row : table)
    if (row.name == name) return &row;
  return nullptr;
}

// The row called by the JSON string `v`, or nullptr (also when v is no string).
template <class T, std::size_t N>
const Named<T>* FindValue(const Named<T> (&table)[N], const json& v) {
  if (!v.is_string()) return nullptr;
  return Find(table, std::string_view(v.get_ref<const std::string&>()));
}

// The listed names of `table` in its order, each between `quote`s, separated
// by ", " but for `last_separator` before the last: "a, b or c".
template <class T, std::size_t N>
std::string Names(const Named<T> (&table)[N], std::string_view quote = "", std::string_view last_separator = ", ") {
  std::vector<std::string_view> names;
  for (const Named<T>& row : table)
    if (row.listed) names.push_back(row.name);
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += i + 1 == names.size() ? last_separator : std::string_view(", ");
    s.append(quote).append(names[i]).append(quote);
  }
  return s;
}

constexpr Named<Padding> kPaddings[] = {{"valid", Padding::kValid}, {"same", Padding::kSame}};

Result<Padding> PaddingOf(const Where& w, const json& config) {
  const json* v = Field(config, "padding");
  if (v == nullptr) return Padding::kValid;
  if (const Named<Padding>* row = FindValue(kPaddings, *v)) return row->value;
  return Refuse(w, "padding", *v, "supported: " + Names(kPaddings, "\""));
}

Result<bool> Bool(const Where& w, const json& config, const char* key, bool fallback) {
  const json* v = Field(config, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return Refuse(w, key, *v, "expected true or false");
  return v->get<bool>();
}

// Fields asyncps has no implementation for must be absent, null or their neutral value.
Status CheckUnsupported(const Where& w, const json& config) {
  for (const char* key : {"activity_regularizer", "kernel_constraint", "bias_constraint", "noise_shape"}) {
    if (const json* v = Field(config, key)) return Refuse(w, key, *v, "not supported by asyncps; remove it");
  }
  if (const json* v = Field(config, "data_format"); v != nullptr && *v != "channels_last")
    return Refuse(w, "data_format", *v, "only \"channels_last\" (NHWC) is supported");
  if (const json* v = Field(config, "dilation_rate")) {
    const bool one = (v->is_number_integer() && *v == 1) ||
                     (v->is_array() && std::all_of(v->begin(), v->end(), [](const json& x) { return x == 1; }));
    if (!one) return Refuse(w, "dilation_rate", *v, "dilated convolutions are not supported");
  }
  if (const json* v = Field(config, "groups"); v != nullptr && *v != 1)
    return Refuse(w, "groups", *v, "grouped convolutions are not supported");
  if (const json* v = Field(config, "trainable"); v != nullptr && *v != true)
    return Refuse(w, "trainable", *v, "frozen layers are not supported (every layer trains)");
  if (const json* v = Field(config, "dtype"); v != nullptr && v->is_string() && *v != "float32")
    return Refuse(w, "dtype", *v, "only float32 is supported");
  return Status::OK();
}

using InitKind = Initializer::Kind;
using InitMode = Initializer::Mode;
using InitDistribution = Initializer::Distribution;

// VarianceScaling's "mode" and "distribution".
constexpr Named<InitMode> kInitModes[] = {
    {"fan_in", InitMode::kFanIn}, {"fan_out", InitMode::kFanOut}, {"fan_avg", InitMode::kFanAvg}};
// Keras 2.2 wrote "normal" for what later versions call "truncated_normal".
constexpr Named<InitDistribution> kInitDistributions[] = {{"uniform", InitDistribution::kUniform},
                                                          {"normal", InitDistribution::kTruncatedNormal},
                                                          {"truncated_normal", InitDistribution::kTruncatedNormal},
                                                          {"untruncated_normal", InitDistribution::kUntruncatedNormal}};

// One initializer's arguments: the "config" of {"class_name": ..., "config": {...}}
// ({} when absent), for the builders of kInitializers.
struct InitArgs {
  const Where& w;
  const char* key;  // the layer's field: "kernel_initializer" or "bias_initializer"
  const json& args;

  // args[field]: a number, or `fallback` when absent or null.
  Result<float> Number(const char* field, float fallback) const {
    const json* x = Field(args, field);
    if (x == nullptr) return fallback;
    if (!x->is_number()) return RefuseField(field, *x, "expected a number");
    return x->get<float>();
  }
  // "<key>.<field> = <value>: <why>".
  Status RefuseField(const char* field, const json& value, const std::string& why) const {
    return Refuse(w, std::string(key) + "." + field, value, why);
  }
};
using InitBuilder = Result<Initializer> (*)(const InitArgs& a);

Initializer Scaling(float scale, InitMode mode, InitDistribution distribution) {
  Initializer init;
  init.kind = InitKind::kVarianceScaling;
  init.scale = scale;
  init.mode = mode;
  init.distribution = distribution;
  return init;
}

// Glorot, He and LeCun: VarianceScaling with fixed arguments.
template <int kScale, InitMode kMode, InitDistribution kDistribution>
Result<Initializer> InitFixedScaling(const InitArgs&) {
  return Scaling(kScale, kMode, kDistribution);
}

Result<Initializer> InitVarianceScaling(const InitArgs& a) {
  Result<float> scale = a.Number("scale", 1.0f);
  if (!scale.ok()) return scale.status();
  // A scale that is not > 0 was given (the fallback is 1).
  if (!(scale.value() > 0)) return a.RefuseField("scale", *Field(a.args, "scale"), "must be > 0");
  InitMode mode = InitMode::kFanIn;
  if (const json* v = Field(a.args, "mode")) {
    const Named<InitMode>* row = FindValue(kInitModes, *v);
    if (row == nullptr) return a.RefuseField("mode", *v, "supported: " + Names(kInitModes));
    mode = row->value;
  }
  InitDistribution distribution = InitDistribution::kTruncatedNormal;
  if (const json* v = Field(a.args, "distribution")) {
    const Named<InitDistribution>* row = FindValue(kInitDistributions, *v);
    if (row == nullptr) return a.RefuseField("distribution", *v, "supported: " + Names(kInitDistributions));
    distribution = row->value;
  }
  return Scaling(scale.value(), mode, distribution);
}

Result<Initializer> InitZeros(const InitArgs&) { return Initializer::Zeros(); }

Result<Initializer> InitOnes(const InitArgs&) {
  Initializer init;
  init.kind = InitKind::kConstant;
  init.a = 1.0f;
  return init;
}

Result<Initializer> InitConstant(const InitArgs& a) {
  Result<float> value = a.Number("value", 0.0f);
  if (!value.ok()) return value.status();
  Initializer init;
  init.kind = InitKind::kConstant;
  init.a = value.value();
  return init;
}

// RandomNormal and TruncatedNormal.
template <InitKind kKind>
Result<Initializer> InitNormal(const InitArgs& a) {
  Result<float> mean = a.Number("mean", 0.0f), stddev = a.Number("stddev", 0.05f);
  if (!mean.ok()) return mean.status();
  if (!stddev.ok()) return stddev.status();
  Initializer init;
  init.kind = kKind;
  init.a = mean.value();
  init.b = stddev.value();
  return init;
}

Result<Initializer> InitRandomUniform(const InitArgs& a) {
  Result<float> lo = a.Number("minval", -0.05f), hi = a.Number("maxval", 0.05f);
  if (!lo.ok()) return lo.status();
  if (!hi.ok()) return hi.status();
  Initializer init;
  init.kind = InitKind::kRandomUniform;
  init.a = lo.value();
  init.b = hi.value();
  return init;
}

// Keras' initializer classes, each followed by its snake_case shorthand.
constexpr Named<InitBuilder> kInitializers[] = {
    {"GlorotUniform", InitFixedScaling<1, InitMode::kFanAvg, InitDistribution::kUniform>},
    {"glorot_uniform", InitFixedScaling<1, InitMode::kFanAvg, InitDistribution::kUniform>, false},
    {"GlorotNormal", InitFixedScaling<1, InitMode::kFanAvg, InitDistribution::kTruncatedNormal>},
    {"glorot_normal", InitFixedScaling<1, InitMode::kFanAvg, InitDistribution::kTruncatedNormal>, false},
    {"HeNormal", InitFixedScaling<2, InitMode::kFanIn, InitDistribution::kTruncatedNormal>},
    {"he_normal", InitFixedScaling<2, InitMode::kFanIn, InitDistribution::kTruncatedNormal>, false},
    {"HeUniform", InitFixedScaling<2, InitMode::kFanIn, InitDistribution::kUniform>},
    {"he_uniform", InitFixedScaling<2, InitMode::kFanIn, InitDistribution::kUniform>, false},
    {"LecunNormal", InitFixedScaling<1, InitMode::kFanIn, InitDistribution::kTruncatedNormal>},
    {"lecun_normal", InitFixedScaling<1, InitMode::kFanIn, InitDistribution::kTruncatedNormal>, false},
    {"LecunUniform", InitFixedScaling<1, InitMode::kFanIn, InitDistribution::kUniform>},
    {"lecun_uniform", InitFixedScaling<1, InitMode::kFanIn, InitDistribution::kUniform>, false},
    {"VarianceScaling", InitVarianceScaling},
    {"variance_scaling", InitVarianceScaling, false},
    {"Zeros", InitZeros},
    {"zeros", InitZeros, false},
    {"Ones", InitOnes},
    {"ones", InitOnes, false},
    {"Constant", InitConstant},
    {"constant", InitConstant, false},
    {"RandomNormal", InitNormal<InitKind::kRandomNormal>},
    {"random_normal", InitNormal<InitKind::kRandomNormal>, false},
    {"RandomUniform", InitRandomUniform},
    {"random_uniform", InitRandomUniform, false},
    {"TruncatedNormal", InitNormal<InitKind::kTruncatedNormal>},
    {"truncated_normal", InitNormal<InitKind::kTruncatedNormal>, false},
};

Result<Initializer> InitializerOf(const Where& w, const json& config, const char* key, const Initializer& fallback) {
  const json* v = Field(config, key);
  if (v == nullptr) return fallback;
  std::string name;
  json args = json::object();
  if (v->is_string()) {
    name = v->get<std::string>();
  } else if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string()) {
    name = (*v)["class_name"].get<std::string>();
    if (const json* c = Field(*v, "config")) args = *c;
  } else {
    return Refuse(w, key, *v, "expected an initializer {\"class_name\": ..., \"config\": {...}}");
  }
  const Named<InitBuilder>* row = Find(kInitializers, name);
  if (row == nullptr) return Refuse(w, key, *v, "unsupported initializer; use " + Names(kInitializers, "", " or "));
  Result<Initializer> init = row->value(InitArgs{w, key, args});
  if (!init.ok()) return init;
  if (const json* seed = Field(args, "seed")) {
    if (!seed->is_number_integer()) return Refuse(w, std::string(key) + ".seed", *seed, "expected an integer");
    init.value().seed = static_cast<std::uint64_t>(seed->get<std::int64_t>());
  }
  return init;
}

// What Conv2D and Dense share: use_bias and their two initializers (Keras'
// defaults: a bias, glorot_uniform kernels, zero biases).
struct WeightsConfig {
  bool use_bias = true;
  Initializer kernel_initializer;
  Initializer bias_initializer;
};
Result<WeightsConfig> WeightsOf(const Where& w, const json& config) {
  Result<bool> bias = Bool(w, config, "use_bias", true);
  if (!bias.ok()) return bias.status();
  Result<Initializer> ki = InitializerOf(w, config, "kernel_initializer", Initializer::Glorot());
  if (!ki.ok()) return ki.status();
  Result<Initializer> bi = InitializerOf(w, config, "bias_initializer", Initializer::Zeros());
  if (!bi.ok()) return bi.status();
  return WeightsConfig{bias.value(), ki.value(), bi.value()};
}

enum class Act {
  kLinear,
  kRelu,
  kSigmoid,
  kTanh,
  kSoftmax,
  kElu,
  kSelu,
  kGelu,
  kSwish,
  kSoftplus,
  kSoftsign,
  kHardSigmoid,
  kLeakyRelu,
  kExponential
};

// Keras' activation names (activations.py: silu is swish's other name).
constexpr Named<Act> kActivations[] = {{"linear", Act::kLinear},
                                       {"relu", Act::kRelu},
                                       {"sigmoid", Act::kSigmoid},
                                       {"tanh", Act::kTanh},
                                       {"softmax", Act::kSoftmax},
                                       {"elu", Act::kElu},
                                       {"selu", Act::kSelu},
                                       {"gelu", Act::kGelu},
                                       {"swish", Act::kSwish},
                                       {"silu", Act::kSwish},
                                       {"softplus", Act::kSoftplus},
                                       {"softsign", Act::kSoftsign},
                                       {"hard_sigmoid", Act::kHardSigmoid},
                                       {"leaky_relu", Act::kLeakyRelu},
                                       {"exponential", Act::kExponential}};

// What a file's Keras version changes, and the model's seed, for the layer builders.
struct ModelFile {
  std::uint64_t seed = 0;
  // Written by Keras 3 (keras_version 3.x, or Keras 3's "module" fields): its
  // hard_sigmoid is relu6(x + 3) / 6, Keras 2's clip(0.2 x + 0.5, 0, 1).
  bool keras3 = false;
};

Result<Act> ActivationOf(const Where& w, const json& config) {
  const json* v = Field(config, "activation");
  if (v == nullptr) return Act::kLinear;
  if (const Named<Act>* row = FindValue(kActivations, *v)) return row->value;
  return Refuse(w, "activation", *v, "supported: " + Names(kActivations));
}

// The input shape from a batch_input_shape ([null, h, w, c], [null, t, f] or [null, n]), as
// Keras 2 writes it (Keras 3: batch_shape; some versions wrap it in a TensorShape).
Result<Shape> InputShapeOf(const Where& w, const json& config) {
  const json* v = Field(config, "batch_input_shape");
  if (v == nullptr) v = Field(config, "batch_shape");
  if (v == nullptr) return Status::InvalidArgument(w() + "field 'batch_input_shape' is missing");
  const json& dims = v->is_object() && v->contains("items") ? (*v)["items"] : *v;
  const std::string max = std::to_string(kMaxBufferElements);
  std::optional<Shape> shape;
  if (dims.is_array() && dims.size() == 4 && InRange(dims[1]) && InRange(dims[2]) && InRange(dims[3]))
    shape = Shape::Image(dims[1].get<std::size_t>(), dims[2].get<std::size_t>(), dims[3].get<std::size_t>());
  if (dims.is_array() && dims.size() == 3 && InRange(dims[1]) && InRange(dims[2]))
    shape = Shape::Sequence(dims[1].get<std::size_t>(), dims[2].get<std::size_t>());
  if (dims.is_array() && dims.size() == 2 && InRange(dims[1])) shape = Shape::Vector(dims[1].get<std::size_t>());
  if (!shape) {
    return Refuse(w, "batch_input_shape", *v,
                  "expected [null, height, width, channels], [null, timesteps, features] or [null, features], each "
                  "in [1, " +
                      max + "]");
  }
  if (!BoundedProduct({shape->height, shape->width, shape->channels}, kMaxBufferElements))
    return Refuse(w, "batch_input_shape", *v, "more than the maximum of " + max + " elements per sample");
  return *shape;
}

// The layer for an activation other than softmax (which the loss takes).
std::unique_ptr<Layer> ActivationLayer(Act a, const ModelFile& file) {
  using K = ActivationKind;
  switch (a) {
    case Act::kRelu:
      return std::make_unique<ReLU>();
    case Act::kSigmoid:
      return std::make_unique<Activation>(K::kSigmoid);
    case Act::kTanh:
      return std::make_unique<Activation>(K::kTanh);
    case Act::kElu:
      return std::make_unique<Activation>(K::kElu);
    case Act::kSelu:
      return std::make_unique<Activation>(K::kSelu);
    case Act::kGelu:
      return std::make_unique<Activation>(K::kGelu);
    case Act::kSwish:
      return std::make_unique<Activation>(K::kSwish);
    case Act::kSoftplus:
      return std::make_unique<Activation>(K::kSoftplus);
    case Act::kSoftsign:
      return std::make_unique<Activation>(K::kSoftsign);
    case Act::kHardSigmoid:
      return std::make_unique<Activation>(file.keras3 ? K::kHardSigmoidKeras3 : K::kHardSigmoid);
    case Act::kLeakyRelu:  // keras.activations.leaky_relu's (and tf.nn's) default slope
      return std::make_unique<Activation>(K::kRelu, ActivationOptions{.alpha = 0.2f});
    case Act::kExponential:
      return std::make_unique<Activation>(K::kExponential);
    default:
      return std::make_unique<Activation>(K::kLinear);
  }
}

// What one layer of the file becomes: its layer and the activation Keras
// applies after it (Conv2D's and Dense's `activation`). A null layer is an
// Activation('softmax') layer, which the loss takes.
// A regularizer field: null, Keras' {"class_name": "L1" | "L2" | "L1L2", "config":
// {"l1": .., "l2": ..}}, or the names "l1", "l2", "l1_l2" (Keras' 0.01 each).
Result<std::optional<Regularizer>> RegularizerOf(const Where& w, const json& config, const char* key) {
  const json* v = Field(config, key);
  if (v == nullptr || v->is_null()) return std::optional<Regularizer>();
  std::string name;
  json args = json::object();
  if (v->is_string()) {
    name = v->get<std::string>();
  } else if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string()) {
    name = (*v)["class_name"].get<std::string>();
    if (const json* c = Field(*v, "config")) args = *c;
  }
  Regularizer r;
  if (name == "l1" || name == "l2" || name == "l1_l2") {
    r.l1 = name == "l2" ? 0.0f : 0.01f;
    r.l2 = name == "l1" ? 0.0f : 0.01f;
    return std::optional<Regularizer>(r);
  }
  if (name != "L1" && name != "L2" && name != "L1L2")
    return Refuse(w, key, *v, "supported: L1, L2 and L1L2 (Keras' l1, l2, l1_l2)");
  for (const char* k : {"l1", "l2"}) {
    const json* f = Field(args, k);
    if (f == nullptr || f->is_null()) continue;
    if (!f->is_number() || !std::isfinite(f->get<double>()) || f->get<double>() < 0 || f->get<double>() > 1e6)
      return Refuse(w, std::string(key) + "." + k, *f, "expected a number in [0, 1e6]");
    (std::string(k) == "l1" ? r.l1 : r.l2) = f->get<float>();
  }
  return std::optional<Regularizer>(r);
}

// The regularizer fields of a Keras layer and the tensors they regularize.
constexpr std::pair<const char*, const char*> kRegularizedTensors[] = {{"kernel_regularizer", "kernel"},
                                                                       {"bias_regularizer", "bias"},
                                                                       {"recurrent_regularizer", "recurrent_kernel"},
                                                                       {"embeddings_regularizer", "embeddings"},
                                                                       {"gamma_regularizer", "gamma"},
                                                                       {"beta_regularizer", "beta"}};

// Every regularizer of layer `w`: (tensor name, regularizer).
Result<std::vector<std::pair<std::string, Regularizer>>> RegularizersOf(const Where& w, const json& config) {
  std::vector<std::pair<std::string, Regularizer>> out;
  for (const auto& [key, tensor] : kRegularizedTensors) {
    Result<std::optional<Regularizer>> r = RegularizerOf(w, config, key);
    if (!r.ok()) return r.status();
    if (r.value()) out.emplace_back(w.name + "/" + tensor, *r.value());
  }
  return out;
}

// A layer entry's class, name and config: {"class_name": ..., "config": {...}}.
struct LayerHeader {
  Where where;
  json config;  // {} when absent
};

// The name is the config's, else the entry's, else "layer_<i>" (Sequential) or
// an error (name_required: a Functional model's layers are referred to by name).
Result<LayerHeader> ReadLayerHeader(const std::string& source, std::size_t i, const json& layer, bool name_required) {
  LayerHeader h{Where{source, i, "?", "?"}, json::object()};
  if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string())
    return Status::InvalidArgument(h.where() + "expected {\"class_name\": ..., \"config\": {...}}");
  h.where.type = layer["class_name"].get<std::string>();
  if (layer.contains("config") && layer["config"].is_object()) h.config = layer["config"];
  if (h.config.contains("name") && h.config["name"].is_string())
    h.where.name = h.config["name"].get<std::string>();
  else if (layer.contains("name") && layer["name"].is_string())
    h.where.name = layer["name"].get<std::string>();
  else if (name_required)
    return Status::InvalidArgument(h.where() + "a Functional model's layer needs a name");
  else
    h.where.name = "layer_" + std::to_string(i);
  return h;
}

// Builds `model` (read from `source`) and registers its regularizers; one on a
// tensor the layer does not have (a bias_regularizer with use_bias false) is
// unused, as in Keras. The softmax of `softmax_at` (the loss's) must end in a vector.
Result<std::unique_ptr<Sequential>> FinishModel(std::unique_ptr<Sequential> model, const std::string& source,
                                                const ModelFile& file, std::size_t max_parameters,
                                                const std::vector<std::pair<std::string, Regularizer>>& regularizers,
                                                const std::optional<std::string>& softmax_at) {
  if (Status st = model->Build(file.seed, max_parameters); !st.ok())
    return Status::InvalidArgument(source + ": " + st.message());
  for (const auto& [tensor, r] : regularizers) (void)model->AddRegularizer(tensor, r);
  if (softmax_at && model->output_shape().rank != 1) {
    return Status::InvalidArgument(source + ": the softmax of '" + *softmax_at + "' is over an image " +
                                   model->output_shape().ToString() +
                                   "; end the model in Flatten and Dense(classes, activation='softmax')");
  }
  return model;
}

struct LayerBuilt {
  std::unique_ptr<Layer> layer;
  Act activation = Act::kLinear;
};
// Builds the layer `w` from its config in `file`.
using LayerBuilder = Result<LayerBuilt> (*)(const Where& w, const json& config, const ModelFile& file);

Result<LayerBuilt> BuildConv2D(const Where& w, const json& config, const ModelFile& /*file*/) {
  Conv2DOptions o;
  Result<std::size_t> filters = PositiveInt(w, config, "filters", std::nullopt);
  if (!filters.ok()) return filters.status();
  o.filters = filters.value();
  auto kernel = Pair(w, config, "kernel_size", std::nullopt);
  if (!kernel.ok()) return kernel.status();
  auto strides = Pair(w, config, "strides", std::pair<std::size_t, std::size_t>{1, 1});
  if (!strides.ok()) return strides.status();
  Result<Padding> padding = PaddingOf(w, config);
  if (!padding.ok()) return padding.status();
  Result<WeightsConfig> weights = WeightsOf(w, config);
  if (!weights.ok()) return weights.status();
  o.kernel_height = kernel.value().first;
  o.kernel_width = kernel.value().second;
  o.stride_height = strides.value().first;
  o.stride_width = strides.value().second;
  o.padding = padding.value();
  o.use_bias = weights.value().use_bias;
  o.kernel_initializer = weights.value().kernel_initializer;
  o.bias_initializer = weights.value().bias_initializer;
  Result<Act> act = ActivationOf(w, config);
  if (!act.ok()) return act.status();
  return LayerBuilt{std::make_unique<Conv2D>(o), act.value()};
}

Result<LayerBuilt> BuildDense(const Where& w, const json& config, const ModelFile& /*file*/) {
  Result<std::size_t> units = PositiveInt(w, config, "units", std::nullopt);
  if (!units.ok()) return units.status();
  Result<WeightsConfig> weights = WeightsOf(w, config);
  if (!weights.ok()) return weights.status();
  DenseOptions o{.use_bias = weights.value().use_bias,
                 .kernel_initializer = weights.value().kernel_initializer,
                 .bias_initializer = weights.value().bias_initializer};
  Result<Act> act = ActivationOf(w, config);
  if (!act.ok()) return act.status();
  return LayerBuilt{std::make_unique<Dense>(units.value(), o), act.value()};
}

// MaxPool2D or AvgPool2D.
template <class Pool>
Result<LayerBuilt> BuildPool(const Where& w, const json& config, const ModelFile& /*file*/) {
  auto size = Pair(w, config, "pool_size", std::pair<std::size_t, std::size_t>{2, 2});
  if (!size.ok()) return size.status();
  auto strides = Pair(w, config, "strides", size.value());
  if (!strides.ok()) return strides.status();
  Result<Padding> padding = PaddingOf(w, config);
  if (!padding.ok()) return padding.status();
  const PoolOptions o{size.value().first, size.value().second, strides.value().first, strides.value().second,
                      padding.value()};
  return LayerBuilt{std::make_unique<Pool>(o)};
}

Result<LayerBuilt> BuildFlatten(const Where& /*w*/, const json& /*config*/, const ModelFile& /*file*/) {
  return LayerBuilt{std::make_unique<Flatten>()};
}

// Without its own seed, layer i's dropout mask comes from the model's seed and i.
Result<LayerBuilt> BuildDropout(const Where& w, const json& config, const ModelFile& file) {
  const json* rate = Field(config, "rate");
  if (rate == nullptr || !rate->is_number() || !(rate->get<double>() >= 0 && rate->get<double>() < 1))
    return Refuse(w, "rate", rate ? *rate : json(), "expected a number in [0, 1)");
  std::uint64_t seed = file.seed * 0x9E3779B97F4A7C15ull + w.index;
  if (const json* s = Field(config, "seed")) {
    if (!s->is_number_integer()) return Refuse(w, "seed", *s, "expected an integer");
    seed = static_cast<std::uint64_t>(s->get<std::int64_t>());
  }
  return LayerBuilt{std::make_unique<Dropout>(rate->get<float>(), seed)};
}

Result<LayerBuilt> BuildActivation(const Where& w, const json& config, const ModelFile& file) {
  Result<Act> act = ActivationOf(w, config);
  if (!act.ok()) return act.status();
  if (act.value() == Act::kSoftmax) return LayerBuilt{nullptr, Act::kSoftmax};
  return LayerBuilt{ActivationLayer(act.value(), file)};
}

// config[key]: a number in [lo, hi] (`range` says which, for the refusal), or `fallback` when absent or null.
Result<float> Number(const Where& w, const json& config, const char* key, float fallback, double lo, double hi,
                     const char* range) {
  const json* v = Field(config, key);
  if (v == nullptr) return fallback;
  if (!v->is_number() || !(v->get<double>() >= lo && v->get<double>() <= hi))
    return Refuse(w, key, *v, std::string("expected a number ") + range);
  return v->get<float>();
}

// A layer's `axis` (an integer, or a list of one, as Keras 2 writes it once built):
// -1 or the index of the last axis, checked against the input by the layer.
Result<int> LastAxis(const Where& w, const json& config) {
  const json* v = Field(config, "axis");
  if (v == nullptr) return -1;
  const json& a = v->is_array() && v->size() == 1 ? (*v)[0] : *v;
  if (!a.is_number_integer() || !(a == -1 || a == 1 || a == 2 || a == 3))
    return Refuse(w, "axis", *v, "only the last (channels) axis is supported: -1, or 3 on images and 1 on vectors");
  return a.get<int>();
}

Result<LayerBuilt> BuildBatchNorm(const Where& w, const json& config, const ModelFile& /*file*/) {
  for (const char* key : {"beta_constraint", "gamma_constraint", "renorm_clipping", "virtual_batch_size", "adjustment"})
    if (const json* v = Field(config, key)) return Refuse(w, key, *v, "not supported by asyncps; remove it");
  for (const char* key : {"renorm", "synchronized"})
    if (const json* v = Field(config, key); v != nullptr && *v != false)
      return Refuse(w, key, *v, "not supported by asyncps (expected false)");
  Result<int> axis = LastAxis(w, config);
  if (!axis.ok()) return axis.status();
  BatchNormOptions o;
  o.axis = axis.value();
  Result<float> momentum = Number(w, config, "momentum", 0.99f, 0.0, 1.0, "in [0, 1]");
  if (!momentum.ok()) return momentum.status();
  o.momentum = momentum.value();
  Result<float> epsilon = Number(w, config, "epsilon", 1e-3f, 1e-30, 1e30, "> 0");
  if (!epsilon.ok()) return epsilon.status();
  o.epsilon = epsilon.value();
  Result<bool> center = Bool(w, config, "center", true), scale = Bool(w, config, "scale", true);
  if (!center.ok()) return center.status();
  if (!scale.ok()) return scale.status();
  o.center = center.value();
  o.scale = scale.value();
  struct {
    const char* key;
    Initializer* init;
  } inits[] = {{"beta_initializer", &o.beta_initializer},
               {"gamma_initializer", &o.gamma_initializer},
               {"moving_mean_initializer", &o.moving_mean_initializer},
               {"moving_variance_initializer", &o.moving_variance_initializer}};
  for (const auto& i : inits) {
    Result<Initializer> init = InitializerOf(w, config, i.key, *i.init);
    if (!init.ok()) return init.status();
    *i.init = init.value();
  }
  return LayerBuilt{std::make_unique<BatchNorm>(o)};
}

// GlobalAveragePooling2D or GlobalMaxPooling2D.
template <GlobalPoolKind kKind>
Result<LayerBuilt> BuildGlobalPool(const Where& w, const json& config, const ModelFile& /*file*/) {
  Result<bool> keepdims = Bool(w, config, "keepdims", false);
  if (!keepdims.ok()) return keepdims.status();
  return LayerBuilt{std::make_unique<GlobalPool2D>(kKind, keepdims.value())};
}

// An integer in [0, kMaxBufferElements] (a padding).
bool InRangeOrZero(const json& x) { return x == 0 || InRange(x); }

// padding: n (all four sides), [rows, columns] (each on both sides) or [[top, bottom], [left, right]].
Result<LayerBuilt> BuildZeroPadding2D(const Where& w, const json& config, const ModelFile& /*file*/) {
  ZeroPaddingOptions o;
  if (const json* v = Field(config, "padding")) {
    auto both = [](const json& x) {
      return x.is_array() && x.size() == 2 && InRangeOrZero(x[0]) && InRangeOrZero(x[1]);
    };
    if (InRangeOrZero(*v)) {
      o.top = o.bottom = o.left = o.right = v->get<std::size_t>();
    } else if (v->is_array() && v->size() == 2 && InRangeOrZero((*v)[0]) && InRangeOrZero((*v)[1])) {
      o.top = o.bottom = (*v)[0].get<std::size_t>();
      o.left = o.right = (*v)[1].get<std::size_t>();
    } else if (v->is_array() && v->size() == 2 && both((*v)[0]) && both((*v)[1])) {
      o.top = (*v)[0][0].get<std::size_t>();
      o.bottom = (*v)[0][1].get<std::size_t>();
      o.left = (*v)[1][0].get<std::size_t>();
      o.right = (*v)[1][1].get<std::size_t>();
    } else {
      return Refuse(w, "padding", *v,
                    "expected n, [rows, columns] or [[top, bottom], [left, right]], each in [0, " +
                        std::to_string(kMaxBufferElements) + "]");
    }
  }
  return LayerBuilt{std::make_unique<ZeroPadding2D>(o)};
}

// target_shape: [height, width, channels], [timesteps, features] or [features]; one may be -1 (inferred).
Result<LayerBuilt> BuildReshape(const Where& w, const json& config, const ModelFile& /*file*/) {
  const json* v = Field(config, "target_shape");
  const std::string expected = "expected [height, width, channels], [timesteps, features] or [features], each in [1, " +
                               std::to_string(kMaxBufferElements) + "] or one -1";
  if (v == nullptr) return Status::InvalidArgument(w() + "field 'target_shape' is missing");
  if (!v->is_array() || v->empty() || v->size() > 3) return Refuse(w, "target_shape", *v, expected);
  std::size_t dims[3] = {0, 0, 0};  // 0: inferred
  int inferred = 0;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& d = (*v)[i];
    if (d == -1) {
      ++inferred;
    } else if (InRange(d)) {
      dims[i] = d.get<std::size_t>();
    } else {
      return Refuse(w, "target_shape", *v, expected);
    }
  }
  if (inferred > 1) return Refuse(w, "target_shape", *v, expected);
  if (!BoundedProduct(
          {std::max<std::size_t>(dims[0], 1), std::max<std::size_t>(dims[1], 1), std::max<std::size_t>(dims[2], 1)},
          kMaxBufferElements))
    return Refuse(w, "target_shape", *v,
                  "more than the maximum of " + std::to_string(kMaxBufferElements) + " elements");
  const Shape target = v->size() == 1   ? Shape::Vector(dims[0])
                       : v->size() == 2 ? Shape::Sequence(dims[0], dims[1])
                                        : Shape::Image(dims[0], dims[1], dims[2]);
  return LayerBuilt{std::make_unique<Reshape>(target)};
}

// ReLU(max_value, negative_slope, threshold).
Result<LayerBuilt> BuildReLU(const Where& w, const json& config, const ModelFile& /*file*/) {
  ActivationOptions o;
  Result<float> max_value = Number(w, config, "max_value", o.max_value, 0.0, 3.4e38, ">= 0");
  Result<float> slope = Number(w, config, "negative_slope", 0.0f, 0.0, 3.4e38, ">= 0");
  Result<float> threshold = Number(w, config, "threshold", 0.0f, -3.4e38, 3.4e38, "(finite)");
  for (const Result<float>* r : {&max_value, &slope, &threshold})
    if (!r->ok()) return r->status();
  o.max_value = max_value.value();
  o.alpha = slope.value();
  o.threshold = threshold.value();
  return LayerBuilt{std::make_unique<Activation>(ActivationKind::kRelu, o, "ReLU", "re_lu")};
}

// LeakyReLU(alpha) in Keras 2, LeakyReLU(negative_slope) in Keras 3; 0.3 in both.
Result<LayerBuilt> BuildLeakyReLU(const Where& w, const json& config, const ModelFile& /*file*/) {
  const char* key = Field(config, "negative_slope") != nullptr ? "negative_slope" : "alpha";
  Result<float> slope = Number(w, config, key, 0.3f, 0.0, 3.4e38, ">= 0");
  if (!slope.ok()) return slope.status();
  return LayerBuilt{std::make_unique<Activation>(ActivationKind::kRelu, ActivationOptions{.alpha = slope.value()},
                                                 "LeakyReLU", "leaky_re_lu")};
}

Result<LayerBuilt> BuildELU(const Where& w, const json& config, const ModelFile& /*file*/) {
  Result<float> alpha = Number(w, config, "alpha", 1.0f, -3.4e38, 3.4e38, "(finite)");
  if (!alpha.ok()) return alpha.status();
  return LayerBuilt{
      std::make_unique<Activation>(ActivationKind::kElu, ActivationOptions{.alpha = alpha.value()}, "ELU", "elu")};
}

// Softmax(axis=-1): fused into the loss like Activation('softmax').
Result<LayerBuilt> BuildSoftmax(const Where& w, const json& config, const ModelFile& /*file*/) {
  if (const json* v = Field(config, "axis");
      v != nullptr && *v != -1 && *v != json::array({-1}) && *v != 1 && *v != json::array({1}))
    return Refuse(w, "axis", *v, "only the softmax over the classes (axis -1) is supported");
  return LayerBuilt{nullptr, Act::kSoftmax};
}

// A 1D layer's size field: n or [n] (Keras writes one-element lists).
Result<std::size_t> Single(const Where& w, const json& config, const char* key, std::optional<std::size_t> fallback) {
  const json* v = Field(config, key);
  if (v == nullptr || v->is_null()) {
    if (fallback) return *fallback;
    return Status::InvalidArgument(w() + "field '" + key + "' is missing");
  }
  if (InRange(*v)) return v->get<std::size_t>();
  if (v->is_array() && v->size() == 1 && InRange((*v)[0])) return (*v)[0].get<std::size_t>();
  return Refuse(w, key, *v, "expected an integer in [1, " + std::to_string(kMaxBufferElements) + "] or a list of one");
}

Result<LayerBuilt> BuildConv1D(const Where& w, const json& config, const ModelFile& /*file*/) {
  Conv2DOptions o{.kernel_height = 1, .one_d = true};
  Result<std::size_t> filters = PositiveInt(w, config, "filters", std::nullopt);
  Result<std::size_t> kernel = Single(w, config, "kernel_size", std::nullopt);
  Result<std::size_t> strides = Single(w, config, "strides", 1);
  for (const Result<std::size_t>* r : {&filters, &kernel, &strides})
    if (!r->ok()) return r->status();
  Result<Padding> padding = PaddingOf(w, config);
  if (!padding.ok()) return padding.status();
  Result<WeightsConfig> weights = WeightsOf(w, config);
  if (!weights.ok()) return weights.status();
  o.filters = filters.value();
  o.kernel_width = kernel.value();
  o.stride_width = strides.value();
  o.padding = padding.value();
  o.use_bias = weights.value().use_bias;
  o.kernel_initializer = weights.value().kernel_initializer;
  o.bias_initializer = weights.value().bias_initializer;
  Result<Act> act = ActivationOf(w, config);
  if (!act.ok()) return act.status();
  return LayerBuilt{std::make_unique<Conv2D>(o), act.value()};
}

// MaxPooling1D or AveragePooling1D.
template <class Pool>
Result<LayerBuilt> BuildPool1D(const Where& w, const json& config, const ModelFile& /*file*/) {
  Result<std::size_t> size = Single(w, config, "pool_size", 2);
  if (!size.ok()) return size.status();
  Result<std::size_t> strides = Single(w, config, "strides", size.value());
  if (!strides.ok()) return strides.status();
  Result<Padding> padding = PaddingOf(w, config);
  if (!padding.ok()) return padding.status();
  return LayerBuilt{std::make_unique<Pool>(PoolOptions{.pool_height = 1,
                                                       .pool_width = size.value(),
                                                       .stride_height = 1,
                                                       .stride_width = strides.value(),
                                                       .padding = padding.value(),
                                                       .one_d = true})};
}

// GlobalAveragePooling1D or GlobalMaxPooling1D.
template <GlobalPoolKind kKind>
Result<LayerBuilt> BuildGlobalPool1D(const Where& w, const json& config, const ModelFile& /*file*/) {
  Result<bool> keepdims = Bool(w, config, "keepdims", false);
  if (!keepdims.ok()) return keepdims.status();
  return LayerBuilt{std::make_unique<GlobalPool2D>(kKind, keepdims.value(), /*one_d=*/true)};
}

Result<LayerBuilt> BuildEmbedding(const Where& w, const json& config, const ModelFile& /*file*/) {
  if (const json* v = Field(config, "embeddings_constraint"))
    return Refuse(w, "embeddings_constraint", *v, "not supported by asyncps; remove it");
  for (const char* key : {"mask_zero", "sparse"})
    if (const json* v = Field(config, key); v != nullptr && *v != false)
      return Refuse(w, key, *v, "not supported by asyncps (expected false)");
  Result<std::size_t> input_dim = PositiveInt(w, config, "input_dim", std::nullopt);
  Result<std::size_t> output_dim = PositiveInt(w, config, "output_dim", std::nullopt);
  for (const Result<std::size_t>* r : {&input_dim, &output_dim})
    if (!r->ok()) return r->status();
  EmbeddingOptions o{.input_dim = input_dim.value(), .output_dim = output_dim.value()};
  Result<Initializer> init = InitializerOf(w, config, "embeddings_initializer", o.embeddings_initializer);
  if (!init.ok()) return init.status();
  o.embeddings_initializer = init.value();
  return LayerBuilt{std::make_unique<Embedding>(o)};
}

// An activation a recurrent cell computes (activation, recurrent_activation).
Result<RecurrentActivation> RecurrentActivationOf(const Where& w, const json& config, const char* key,
                                                  RecurrentActivation fallback, const ModelFile& file) {
  const json* v = Field(config, key);
  if (v == nullptr) return fallback;
  const Named<Act>* row = FindValue(kActivations, *v);
  if (row != nullptr) {
    switch (row->value) {
      case Act::kTanh:
        return RecurrentActivation::kTanh;
      case Act::kSigmoid:
        return RecurrentActivation::kSigmoid;
      case Act::kRelu:
        return RecurrentActivation::kRelu;
      case Act::kLinear:
        return RecurrentActivation::kLinear;
      case Act::kHardSigmoid:
        return file.keras3 ? RecurrentActivation::kHardSigmoid3 : RecurrentActivation::kHardSigmoid;
      default:
        break;
    }
  }
  return Refuse(w, key, *v, "recurrent layers support tanh, sigmoid, relu, linear and hard_sigmoid");
}

// SimpleRNN, LSTM or GRU.
template <RecurrentCell kCell>
Result<LayerBuilt> BuildRecurrent(const Where& w, const json& config, const ModelFile& file) {
  if (const json* v = Field(config, "recurrent_constraint"))
    return Refuse(w, "recurrent_constraint", *v, "not supported by asyncps; remove it");
  for (const char* key : {"go_backwards", "stateful", "return_state", "time_major"})
    if (const json* v = Field(config, key); v != nullptr && *v != false)
      return Refuse(w, key, *v, "not supported by asyncps (expected false)");
  for (const char* key : {"dropout", "recurrent_dropout"})
    if (const json* v = Field(config, key); v != nullptr && *v != 0 && *v != 0.0)
      return Refuse(w, key, *v, "not supported by asyncps (expected 0); put a Dropout layer after it instead");
  Result<std::size_t> units = PositiveInt(w, config, "units", std::nullopt);
  if (!units.ok()) return units.status();
  Result<WeightsConfig> weights = WeightsOf(w, config);
  if (!weights.ok()) return weights.status();
  RecurrentOptions o{.cell = kCell,
                     .use_bias = weights.value().use_bias,
                     .kernel_initializer = weights.value().kernel_initializer,
                     .bias_initializer = weights.value().bias_initializer};
  Result<RecurrentActivation> act = RecurrentActivationOf(w, config, "activation", RecurrentActivation::kTanh, file);
  if (!act.ok()) return act.status();
  o.activation = act.value();
  if (kCell != RecurrentCell::kSimpleRnn) {
    Result<RecurrentActivation> ract =
        RecurrentActivationOf(w, config, "recurrent_activation", RecurrentActivation::kSigmoid, file);
    if (!ract.ok()) return ract.status();
    o.recurrent_activation = ract.value();
  }
  Result<bool> sequences = Bool(w, config, "return_sequences", false);
  Result<bool> reset_after = Bool(w, config, "reset_after", true);
  Result<bool> forget = Bool(w, config, "unit_forget_bias", true);
  for (const Result<bool>* r : {&sequences, &reset_after, &forget})
    if (!r->ok()) return r->status();
  o.return_sequences = sequences.value();
  o.reset_after = reset_after.value();
  o.unit_forget_bias = forget.value();
  // Keras' default recurrent initializer, Orthogonal(gain), is the layer's own.
  const json* ri = Field(config, "recurrent_initializer");
  const bool orthogonal = ri == nullptr || *ri == "orthogonal" || *ri == "Orthogonal" ||
                          (ri->is_object() && ri->value("class_name", "") == "Orthogonal");
  if (orthogonal) {
    const json* c = ri != nullptr && ri->is_object() ? Field(*ri, "config") : nullptr;
    Result<float> gain = c != nullptr ? Number(w, *c, "gain", 1.0f, -3.4e38, 3.4e38, "(finite)") : 1.0f;
    if (!gain.ok()) return gain.status();
    o.orthogonal_gain = gain.value();
  } else {
    Result<Initializer> init = InitializerOf(w, config, "recurrent_initializer", Initializer::Glorot());
    if (!init.ok()) return init.status();
    o.recurrent_orthogonal = false;
    o.recurrent_initializer = init.value();
  }
  return LayerBuilt{std::make_unique<Recurrent>(units.value(), o)};
}

// Keras' layer class names, each followed by its other spellings (Keras 1,
// tf.keras aliases). InputLayer builds no layer: Builder::Build reads the
// model's input shape from it.
constexpr Named<LayerBuilder> kLayers[] = {
    {"InputLayer", nullptr},
    {"Conv2D", BuildConv2D},
    {"Convolution2D", BuildConv2D, false},
    {"MaxPooling2D", BuildPool<MaxPool2D>},
    {"MaxPool2D", BuildPool<MaxPool2D>, false},
    {"AveragePooling2D", BuildPool<AvgPool2D>},
    {"AvgPool2D", BuildPool<AvgPool2D>, false},
    {"AveragePool2D", BuildPool<AvgPool2D>, false},
    {"Flatten", BuildFlatten},
    {"Dense", BuildDense},
    {"Dropout", BuildDropout},
    {"Activation", BuildActivation},
    {"BatchNormalization", BuildBatchNorm},
    {"GlobalAveragePooling2D", BuildGlobalPool<GlobalPoolKind::kAverage>},
    {"GlobalAvgPool2D", BuildGlobalPool<GlobalPoolKind::kAverage>, false},
    {"GlobalMaxPooling2D", BuildGlobalPool<GlobalPoolKind::kMax>},
    {"GlobalMaxPool2D", BuildGlobalPool<GlobalPoolKind::kMax>, false},
    {"ZeroPadding2D", BuildZeroPadding2D},
    {"Reshape", BuildReshape},
    {"ReLU", BuildReLU},
    {"LeakyReLU", BuildLeakyReLU},
    {"ELU", BuildELU},
    {"Softmax", BuildSoftmax},
    {"Conv1D", BuildConv1D},
    {"Convolution1D", BuildConv1D, false},
    {"MaxPooling1D", BuildPool1D<MaxPool2D>},
    {"MaxPool1D", BuildPool1D<MaxPool2D>, false},
    {"AveragePooling1D", BuildPool1D<AvgPool2D>},
    {"AvgPool1D", BuildPool1D<AvgPool2D>, false},
    {"GlobalAveragePooling1D", BuildGlobalPool1D<GlobalPoolKind::kAverage>},
    {"GlobalAvgPool1D", BuildGlobalPool1D<GlobalPoolKind::kAverage>, false},
    {"GlobalMaxPooling1D", BuildGlobalPool1D<GlobalPoolKind::kMax>},
    {"GlobalMaxPool1D", BuildGlobalPool1D<GlobalPoolKind::kMax>, false},
    {"Embedding", BuildEmbedding},
    {"SimpleRNN", BuildRecurrent<RecurrentCell::kSimpleRnn>},
    {"LSTM", BuildRecurrent<RecurrentCell::kLstm>},
    {"GRU", BuildRecurrent<RecurrentCell::kGru>},
};

// Builds the Sequential from the list of layer descriptions.
class Builder {
 public:
  Builder(std::string source, const ModelFile& file, std::size_t max_parameters)
      : source_(std::move(source)), file_(file), max_parameters_(max_parameters) {}

  Result<std::unique_ptr<Sequential>> Build(const json& layers) {
    std::vector<std::unique_ptr<Layer>> built;
    std::vector<std::pair<std::string, Regularizer>> regularizers;  // (tensor, regularizer)
    std::optional<Shape> input;
    std::string softmax_row;  // the name of the final softmax's own row, if an Activation layer
    std::optional<std::string> softmax_at;
    // The name of a sigmoid that is the last layer's activation (the loss applies it).
    std::optional<std::string> sigmoid_at;
    std::set<std::string> names;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Result<LayerHeader> header = ReadLayerHeader(source_, i, layers[i], /*name_required=*/false);
      if (!header.ok()) return header.status();
      Where& w = header.value().where;
      const json& config = header.value().config;
      if (!names.insert(w.name).second) return Status::InvalidArgument(w() + "a second layer with this name");
      if (softmax_at) {
        return Status::InvalidArgument(w() + "follows the softmax of '" + *softmax_at +
                                       "': softmax must be the model's last activation (asyncps fuses it into "
                                       "the cross-entropy loss)");
      }
      const Named<LayerBuilder>* kind = Find(kLayers, w.type);
      if (kind != nullptr && kind->value == nullptr) {  // InputLayer
        if (i != 0) return Status::InvalidArgument(w() + "an InputLayer must come first");
        Result<Shape> s = InputShapeOf(w, config);
        if (!s.ok()) return s.status();
        input = s.value();
        continue;
      }
      if (!input) {
        Result<Shape> s = InputShapeOf(w, config);
        if (!s.ok()) return s.status();
        input = s.value();
      }
      if (Status st = CheckUnsupported(w, config); !st.ok()) return st;
      Result<std::vector<std::pair<std::string, Regularizer>>> regs = RegularizersOf(w, config);
      if (!regs.ok()) return regs.status();
      regularizers.insert(regularizers.end(), regs.value().begin(), regs.value().end());
      if (kind == nullptr) {
        return Status::InvalidArgument(w() + "layer type '" + w.type +
                                       "' is not supported; supported: " + Names(kLayers));
      }
      Result<LayerBuilt> b = kind->value(w, config, file_);
      if (!b.ok()) return b.status();
      LayerBuilt l = std::move(b).value();
      sigmoid_at.reset();
      if (w.type == "Activation" && l.layer != nullptr && config.value("activation", json()) == "sigmoid")
        sigmoid_at = w.name;
      if (l.layer == nullptr) {  // Activation('softmax'): fused into the loss, with a summary row of its own
        softmax_at = w.name;
        softmax_row = w.name;
        continue;
      }
      l.layer->set_name(w.name);
      built.push_back(std::move(l.layer));
      if (l.activation == Act::kSoftmax) {
        softmax_at = w.name;
      } else if (l.activation != Act::kLinear) {
        std::unique_ptr<Layer> a = ActivationLayer(l.activation, file_);
        a->set_name(w.name + "/activation");
        a->set_fused(true);
        built.push_back(std::move(a));
        if (l.activation == Act::kSigmoid) sigmoid_at = "";  // no summary row of its own
      }
    }
    if (built.empty()) return Status::InvalidArgument(source_ + ": the model has no layers");
    // The last activation goes to the loss: softmax, a final sigmoid, else none.
    OutputActivation output = OutputActivation::kLinear;
    if (softmax_at) {
      output = OutputActivation::kSoftmax;
    } else if (sigmoid_at) {
      built.pop_back();
      output = OutputActivation::kSigmoid;
      softmax_row = *sigmoid_at;
    }
    auto model = std::make_unique<Sequential>(*input);
    for (auto& l : built) model->Add(std::move(l));
    model->SetOutputActivation(output);
    model->SetSoftmaxRow(softmax_row);
    return FinishModel(std::move(model), source_, file_, max_parameters_, regularizers, softmax_at);
  }

 private:
  std::string source_;
  ModelFile file_;
  std::size_t max_parameters_;
};

// Keras' merge layers (Concatenate over the last axis only).
constexpr Named<MergeKind> kMerges[] = {
    {"Add", MergeKind::kAdd},         {"Subtract", MergeKind::kSubtract}, {"Multiply", MergeKind::kMultiply},
    {"Average", MergeKind::kAverage}, {"Maximum", MergeKind::kMaximum},   {"Concatenate", MergeKind::kConcatenate},
};

// The layer names a Functional layer's inbound_nodes reference, in order: Keras
// 2's [[["name", 0, 0, {}], ...]] or Keras 3's [{"args": [tensor or [tensors]],
// "kwargs": {}}] with tensors {"class_name": "__keras_tensor__", "config":
// {"keras_history": ["name", 0, 0]}}. A layer called more than once (a shared
// layer) or a second output of a layer is refused.
Result<std::vector<std::string>> InboundNames(const Where& w, const json& layer) {
  const json* nodes = Field(layer, "inbound_nodes");
  if (nodes == nullptr || !nodes->is_array() || nodes->size() != 1)
    return Refuse(w, "inbound_nodes", nodes ? *nodes : json(),
                  "expected the layer called once (shared layers are not supported)");
  std::vector<std::string> names;
  // One reference [name, node_index, tensor_index, ...]: node and tensor 0.
  auto add = [&](const json& ref) -> bool {
    if (!ref.is_array() || ref.size() < 3 || !ref[0].is_string() || ref[1] != 0 || ref[2] != 0) return false;
    names.push_back(ref[0].get<std::string>());
    return true;
  };
  std::function<bool(const json&)> collect = [&](const json& v) -> bool {  // Keras 3's args
    if (v.is_object() && v.value("class_name", "") == "__keras_tensor__") {
      const json* c = Field(v, "config");
      return c != nullptr && c->contains("keras_history") && add((*c)["keras_history"]);
    }
    if (v.is_array()) {
      for (const json& x : v)
        if (!collect(x)) return false;
      return true;
    }
    return false;
  };
  const json& node = (*nodes)[0];
  bool ok = false;
  if (node.is_array()) {  // Keras 2
    ok = !node.empty();
    for (const json& ref : node) ok = ok && add(ref);
  } else if (node.is_object() && node.contains("args")) {  // Keras 3
    ok = collect(node["args"]) && !names.empty();
  }
  if (!ok) return Refuse(w, "inbound_nodes", *nodes, "expected references to earlier layers' only outputs");
  return names;
}

// The one layer name of input_layers / output_layers ([[name, 0, 0]] or Keras 3's [name, 0, 0]).
Result<std::string> EndpointName(const std::string& source, const json& config, const char* key) {
  const json* v = Field(config, key);
  const json* ref = nullptr;
  if (v != nullptr && v->is_array() && v->size() == 1 && (*v)[0].is_array())
    ref = &(*v)[0];  // Keras 2: [[name, 0, 0]]
  else if (v != nullptr && v->is_array() && !v->empty() && (*v)[0].is_string())
    ref = v;  // Keras 3: [name, 0, 0]
  if (ref == nullptr || ref->empty() || !(*ref)[0].is_string())
    return Status::InvalidArgument(source + ": " + key + " = " + (v ? v->dump() : "null") +
                                   ": expected one layer (models with several inputs or outputs are not supported)");
  return (*ref)[0].get<std::string>();
}

// A Functional model ("Functional", Keras <= 2.3's "Model"): a DAG with one
// input and one output, built into a Sequential of one Graph layer.
class FunctionalBuilder {
 public:
  FunctionalBuilder(std::string source, const ModelFile& file, std::size_t max_parameters)
      : source_(std::move(source)), file_(file), max_parameters_(max_parameters) {}

  Result<std::unique_ptr<Sequential>> Build(const json& config) {
    const json* layers = Field(config, "layers");
    if (layers == nullptr || !layers->is_array())
      return Status::InvalidArgument(source_ + ": expected \"config\": {\"layers\": [...], ...} of a Functional model");
    Result<std::string> input_name = EndpointName(source_, config, "input_layers");
    if (!input_name.ok()) return input_name.status();
    Result<std::string> output_name = EndpointName(source_, config, "output_layers");
    if (!output_name.ok()) return output_name.status();
    std::optional<Shape> input;
    std::map<std::string, int> node_of;  // a Keras layer's output: a node index or kInput
    std::vector<GraphNode> nodes;
    std::vector<std::pair<std::string, Regularizer>> regularizers;  // (tensor, regularizer)
    std::optional<std::string> softmax_at;                          // the layer whose softmax the loss takes
    std::optional<int> sigmoid_node;  // the latest node that is a sigmoid (the loss applies a final one)
    int output = GraphNode::kInput;
    for (std::size_t i = 0; i < layers->size(); ++i) {
      const json& layer = (*layers)[i];
      Result<LayerHeader> header = ReadLayerHeader(source_, i, layer, /*name_required=*/true);
      if (!header.ok()) return header.status();
      Where& w = header.value().where;
      const json& lconfig = header.value().config;
      if (node_of.count(w.name)) return Status::InvalidArgument(w() + "a second layer with this name");
      if (softmax_at) {
        return Status::InvalidArgument(w() + "follows the softmax of '" + *softmax_at +
                                       "': softmax must be the model's output (asyncps fuses it into the loss)");
      }
      if (w.type == "InputLayer") {
        if (w.name != input_name.value() || input)
          return Status::InvalidArgument(w() + "models with several inputs are not supported");
        Result<Shape> s = InputShapeOf(w, lconfig);
        if (!s.ok()) return s.status();
        input = s.value();
        node_of[w.name] = GraphNode::kInput;
        continue;
      }
      Result<std::vector<std::string>> inbound = InboundNames(w, layer);
      if (!inbound.ok()) return inbound.status();
      std::vector<int> inputs;
      for (const std::string& name : inbound.value()) {
        auto it = node_of.find(name);
        if (it == node_of.end())
          return Status::InvalidArgument(w() + "takes the output of '" + name + "', which is no earlier layer");
        inputs.push_back(it->second);
      }
      if (Status st = CheckUnsupported(w, lconfig); !st.ok()) return st;
      Result<std::vector<std::pair<std::string, Regularizer>>> regs = RegularizersOf(w, lconfig);
      if (!regs.ok()) return regs.status();
      regularizers.insert(regularizers.end(), regs.value().begin(), regs.value().end());
      if (const Named<MergeKind>* merge = Find(kMerges, w.type)) {
        if (const json* axis = Field(lconfig, "axis");
            merge->value == MergeKind::kConcatenate && axis != nullptr && *axis != -1 &&
            !(input && axis->is_number_integer() && axis->get<int>() == input->rank))
          return Refuse(w, "axis", *axis, "only the last axis (-1) is supported");
        nodes.push_back(GraphNode{nullptr, merge->value, inputs, w.name});
        node_of[w.name] = static_cast<int>(nodes.size()) - 1;
        continue;
      }
      const Named<LayerBuilder>* kind = Find(kLayers, w.type);
      if (kind == nullptr || kind->value == nullptr) {
        return Status::InvalidArgument(w() + "layer type '" + w.type +
                                       "' is not supported; supported: " + Names(kLayers) + ", " + Names(kMerges));
      }
      if (inputs.size() != 1)
        return Status::InvalidArgument(w() + "takes " + std::to_string(inputs.size()) + " inputs");
      Result<LayerBuilt> b = kind->value(w, lconfig, file_);
      if (!b.ok()) return b.status();
      LayerBuilt l = std::move(b).value();
      if (l.layer == nullptr) {  // Activation('softmax') or Softmax: the loss takes it
        softmax_at = w.name;
        node_of[w.name] = inputs[0];
        continue;
      }
      l.layer->set_name(w.name);
      nodes.push_back(GraphNode{std::move(l.layer), MergeKind::kAdd, inputs, w.name});
      node_of[w.name] = static_cast<int>(nodes.size()) - 1;
      if (w.type == "Activation" && lconfig.value("activation", json()) == "sigmoid") sigmoid_node = node_of[w.name];
      if (l.activation == Act::kSoftmax) {
        softmax_at = w.name;
      } else if (l.activation != Act::kLinear) {
        std::unique_ptr<Layer> a = ActivationLayer(l.activation, file_);
        a->set_name(w.name + "/activation");
        nodes.push_back(GraphNode{std::move(a), MergeKind::kAdd, {node_of[w.name]}, w.name + "/activation"});
        node_of[w.name] = static_cast<int>(nodes.size()) - 1;
        if (l.activation == Act::kSigmoid) sigmoid_node = node_of[w.name];
      }
    }
    if (!input) return Status::InvalidArgument(source_ + ": the Functional model has no InputLayer");
    auto out = node_of.find(output_name.value());
    if (out == node_of.end() || out->second == GraphNode::kInput)
      return Status::InvalidArgument(source_ + ": output_layers names '" + output_name.value() + "', no layer of it");
    output = out->second;
    // The last activation goes to the loss: the output's softmax, a final
    // sigmoid (binary cross-entropy applies it), else none (regression, logits).
    OutputActivation activation = OutputActivation::kLinear;
    if (softmax_at) {
      if (*softmax_at != output_name.value())
        return Status::InvalidArgument(source_ + ": the softmax of '" + *softmax_at + "' must be the model's output '" +
                                       output_name.value() + "' (asyncps fuses it into the cross-entropy loss)");
      activation = OutputActivation::kSoftmax;
    } else if (sigmoid_node && *sigmoid_node == output && output == static_cast<int>(nodes.size()) - 1 &&
               nodes.back().inputs.size() == 1 && nodes.back().inputs[0] != GraphNode::kInput) {
      output = nodes.back().inputs[0];
      nodes.pop_back();
      activation = OutputActivation::kSigmoid;
    }
    auto graph = std::make_unique<Graph>(std::move(nodes), output);
    if (const json* name = Field(config, "name"); name != nullptr && name->is_string())
      graph->set_name(name->get<std::string>());
    auto model = std::make_unique<Sequential>(*input);
    model->Add(std::move(graph));
    model->SetOutputActivation(activation);
    model->SetSoftmaxRow("");
    return FinishModel(std::move(model), source_, file_, max_parameters_, regularizers, softmax_at);
  }

 private:
  std::string source_;
  ModelFile file_;
  std::size_t max_parameters_;
};

// Where the nesting of arrays and objects in `text` first goes deeper than
// `max`, or npos. A scan without recursion (strings skipped, escapes
// honoured) that runs before the JSON parser: a file nested 100,000 deep
// overflowed the stack of nlohmann::json's recursive parser.
std::size_t NestedDeeperThan(std::string_view text, std::size_t max) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Keras 2's model.to_json() writes "keras_version"; Keras 3's writes none but
// gives every object a "module" ("keras", "keras.layers").
bool WrittenByKeras3(const json& top) {
  if (const json* v = Field(top, "keras_version"); v != nullptr && v->is_string())
    return v->get_ref<const std::string&>().rfind("3.", 0) == 0;
  return top.contains("module");
}

}  // namespace

Result<std::unique_ptr<Sequential>> BuildKerasModel(std::string_view text, const std::string& source,
                                                    std::uint64_t seed, std::size_t max_parameters) {
  if (const std::size_t at = NestedDeeperThan(text, kMaxJsonDepth); at != std::string_view::npos) {
    return Status::InvalidArgument(source + ": not a Keras model description: its arrays and objects nest more than " +
                                   std::to_string(kMaxJsonDepth) + " deep (at byte " + std::to_string(at) +
                                   "); model.to_json() nests about 8 deep");
  }
  json top;
  try {
    top = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": not a Keras model description (JSON): " + e.what());
  }
  if (!top.is_object() || !top.contains("class_name")) {
    return Status::InvalidArgument(source +
                                   ": not a Keras model description: expected {\"class_name\": "
                                   "\"Sequential\", \"config\": ...} as model.to_json() writes");
  }
  if (top["class_name"] == "Functional" || top["class_name"] == "Model") {
    const json* config = Field(top, "config");
    try {
      return FunctionalBuilder(source, ModelFile{seed, WrittenByKeras3(top)}, max_parameters)
          .Build(config != nullptr ? *config : json::object());
    } catch (const json::exception& e) {
      return Status::InvalidArgument(source + ": not a Keras model description (JSON): " + e.what());
    } catch (const std::bad_alloc&) {
      return Status::InvalidArgument(source + ": out of memory building the model");
    }
  }
  if (top["class_name"] != "Sequential") {
    return Status::InvalidArgument(source + ": class_name = " + top["class_name"].dump() +
                                   ": only Sequential and Functional models are supported");
  }
  const json* config = Field(top, "config");
  const json* layers = nullptr;
  if (config != nullptr && config->is_array())
    layers = config;  // Keras <= 2.2
  else if (config != nullptr && config->is_object() && config->contains("layers") && (*config)["layers"].is_array())
    layers = &(*config)["layers"];
  if (layers == nullptr) {
    return Status::InvalidArgument(source +
                                   ": expected \"config\" to be a list of layers (Keras <= 2.2) or "
                                   "{\"layers\": [...]} (later Keras)");
  }
  // Every JSON access above is checked; this is the boundary for anything a
  // library still throws (a value that cannot be written back, memory).
  try {
    return Builder(source, ModelFile{seed, WrittenByKeras3(top)}, max_parameters).Build(*layers);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": not a Keras model description (JSON): " + e.what());
  } catch (const std::bad_alloc&) {
    return Status::InvalidArgument(source + ": out of memory building the model");
  }
}

Result<std::unique_ptr<Sequential>> LoadKerasJson(const std::string& path, std::uint64_t seed,
                                                  std::size_t max_parameters) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open the model file (missing or unreadable); check --model");
  std::ostringstream text;
  text << in.rdbuf();
  return BuildKerasModel(text.str(), path, seed, max_parameters);
}

bool IsHdf5Path(const std::string& path) {
  auto ends = [&](const std::string& ext) {
    return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  };
  return ends(".h5") || ends(".hdf5");
}

Result<std::unique_ptr<Sequential>> LoadKerasModel(const std::string& path, std::uint64_t seed,
                                                   std::size_t max_parameters,
                                                   std::chrono::milliseconds h5_time_limit) {
  if (!IsHdf5Path(path)) return LoadKerasJson(path, seed, max_parameters);
  Result<std::string> config = ReadKerasH5ModelConfig(path, h5_time_limit);
  if (!config.ok()) return config.status();
  if (config.value().empty()) {
    return Status::InvalidArgument(path +
                                   ": holds weights only (model.save_weights), no model_config: pass the "
                                   "architecture as --model m.json and this file as --initial-weights");
  }
  Result<std::unique_ptr<Sequential>> model =
      BuildKerasModel(config.value(), path + " (model_config)", seed, max_parameters);
  if (!model.ok()) return model.status();
  Sequential& m = *model.value();
  Result<KerasH5File> file = ReadKerasH5(path, m.layout().total_size(), h5_time_limit);
  if (!file.ok()) return file.status();
  if (Status st = SetKerasWeights(file.value(), path, m.layout(), m.params()); !st.ok()) return st;
  return model;
}

Status SaveFinalWeights(const std::string& path, const Sequential& model) {
  if (IsHdf5Path(path)) return SaveKerasH5Weights(path, model.layout(), model.params());
  return SaveWeights(path, model.layout(), model.params());
}

Status LoadInitialWeights(const std::string& path, Sequential& model) {
  if (!IsHdf5Path(path)) return LoadWeightsInOrder(path, model.layout(), model.params());
  Result<KerasH5File> file = ReadKerasH5(path, model.layout().total_size());
  if (!file.ok()) return file.status();
  return SetKerasWeights(file.value(), path, model.layout(), model.params());
}

}  // namespace asyncps::models
