#include "asyncps/models/keras_model.h"

#include <algorithm>
#include <fstream>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "asyncps/models/activation.h"
#include "asyncps/models/avgpool2d.h"
#include "asyncps/models/conv2d.h"
#include "asyncps/models/dense.h"
#include "asyncps/models/dropout.h"
#include "asyncps/models/flatten.h"
#include "asyncps/models/keras_h5.h"
#include "asyncps/models/limits.h"
#include "asyncps/models/maxpool2d.h"
#include "asyncps/models/relu.h"
#include "asyncps/models/weights.h"

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

Result<Padding> PaddingOf(const Where& w, const json& config) {
  const json* v = Field(config, "padding");
  if (v == nullptr) return Padding::kValid;
  if (*v == "valid") return Padding::kValid;
  if (*v == "same") return Padding::kSame;
  return Refuse(w, "padding", *v, "supported: \"valid\", \"same\"");
}

Result<bool> Bool(const Where& w, const json& config, const char* key, bool fallback) {
  const json* v = Field(config, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return Refuse(w, key, *v, "expected true or false");
  return v->get<bool>();
}

// Fields asyncps has no implementation for must be absent, null or their neutral value.
Status CheckUnsupported(const Where& w, const json& config) {
  for (const char* key : {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                          "bias_constraint", "noise_shape"}) {
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
  using K = Initializer::Kind;
  using M = Initializer::Mode;
  using D = Initializer::Distribution;
  auto number = [&](const char* field, float dflt) -> Result<float> {
    const json* x = Field(args, field);
    if (x == nullptr) return dflt;
    if (!x->is_number()) return Refuse(w, std::string(key) + "." + field, *x, "expected a number");
    return x->get<float>();
  };
  Initializer init;
  auto scaling = [&](float scale, M mode, D dist) {
    init.kind = K::kVarianceScaling;
    init.scale = scale;
    init.mode = mode;
    init.distribution = dist;
  };
  if (name == "GlorotUniform" || name == "glorot_uniform")
    scaling(1, M::kFanAvg, D::kUniform);
  else if (name == "GlorotNormal" || name == "glorot_normal")
    scaling(1, M::kFanAvg, D::kTruncatedNormal);
  else if (name == "HeNormal" || name == "he_normal")
    scaling(2, M::kFanIn, D::kTruncatedNormal);
  else if (name == "HeUniform" || name == "he_uniform")
    scaling(2, M::kFanIn, D::kUniform);
  else if (name == "LecunNormal" || name == "lecun_normal")
    scaling(1, M::kFanIn, D::kTruncatedNormal);
  else if (name == "LecunUniform" || name == "lecun_uniform")
    scaling(1, M::kFanIn, D::kUniform);
  else if (name == "VarianceScaling" || name == "variance_scaling") {
    Result<float> scale = number("scale", 1.0f);
    if (!scale.ok()) return scale.status();
    if (!(scale.value() > 0)) return Refuse(w, std::string(key) + ".scale", args["scale"], "must be > 0");
    const json* mode = Field(args, "mode");
    const json* dist = Field(args, "distribution");
    M m = M::kFanIn;
    if (mode != nullptr) {
      if (*mode == "fan_in")
        m = M::kFanIn;
      else if (*mode == "fan_out")
        m = M::kFanOut;
      else if (*mode == "fan_avg")
        m = M::kFanAvg;
      else
        return Refuse(w, std::string(key) + ".mode", *mode, "supported: fan_in, fan_out, fan_avg");
    }
    D d = D::kTruncatedNormal;
    if (dist != nullptr) {
      // Keras 2.2 wrote "normal" for what later versions call "truncated_normal".
      if (*dist == "uniform")
        d = D::kUniform;
      else if (*dist == "normal" || *dist == "truncated_normal")
        d = D::kTruncatedNormal;
      else if (*dist == "untruncated_normal")
        d = D::kUntruncatedNormal;
      else
        return Refuse(w, std::string(key) + ".distribution", *dist,
                      "supported: uniform, normal, truncated_normal, untruncated_normal");
    }
    scaling(scale.value(), m, d);
  } else if (name == "Zeros" || name == "zeros") {
    init.kind = K::kZeros;
  } else if (name == "Ones" || name == "ones") {
    init.kind = K::kConstant;
    init.a = 1.0f;
  } else if (name == "Constant" || name == "constant") {
    Result<float> value = number("value", 0.0f);
    if (!value.ok()) return value.status();
    init.kind = K::kConstant;
    init.a = value.value();
  } else if (name == "RandomNormal" || name == "random_normal" || name == "TruncatedNormal" ||
             name == "truncated_normal") {
    Result<float> mean = number("mean", 0.0f), stddev = number("stddev", 0.05f);
    if (!mean.ok()) return mean.status();
    if (!stddev.ok()) return stddev.status();
    init.kind = name[0] == 'R' || name[0] == 'r' ? K::kRandomNormal : K::kTruncatedNormal;
    init.a = mean.value();
    init.b = stddev.value();
  } else if (name == "RandomUniform" || name == "random_uniform") {
    Result<float> lo = number("minval", -0.05f), hi = number("maxval", 0.05f);
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    init.kind = K::kRandomUniform;
    init.a = lo.value();
    init.b = hi.value();
  } else {
    return Refuse(w, key, *v,
                  "unsupported initializer; use GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, "
                  "LecunUniform, VarianceScaling, Zeros, Ones, Constant, RandomNormal, RandomUniform or "
                  "TruncatedNormal");
  }
  if (const json* seed = Field(args, "seed")) {
    if (!seed->is_number_integer()) return Refuse(w, std::string(key) + ".seed", *seed, "expected an integer");
    init.seed = static_cast<std::uint64_t>(seed->get<std::int64_t>());
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

enum class Act { kLinear, kRelu, kSigmoid, kTanh, kSoftmax };

Result<Act> ActivationOf(const Where& w, const json& config) {
  const json* v = Field(config, "activation");
  if (v == nullptr || *v == "linear") return Act::kLinear;
  if (*v == "relu") return Act::kRelu;
  if (*v == "sigmoid") return Act::kSigmoid;
  if (*v == "tanh") return Act::kTanh;
  if (*v == "softmax") return Act::kSoftmax;
  return Refuse(w, "activation", *v, "supported: linear, relu, sigmoid, tanh, softmax");
}

// The input shape from a batch_input_shape ([null, h, w, c] or [null, n]), as
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
  if (dims.is_array() && dims.size() == 2 && InRange(dims[1])) shape = Shape::Vector(dims[1].get<std::size_t>());
  if (!shape) {
    return Refuse(w, "batch_input_shape", *v,
                  "expected [null, height, width, channels] or [null, features], each in [1, " + max + "]");
  }
  if (!BoundedProduct({shape->height, shape->width, shape->channels}, kMaxBufferElements))
    return Refuse(w, "batch_input_shape", *v, "more than the maximum of " + max + " elements per sample");
  return *shape;
}

// Builds the Sequential from the list of layer descriptions.
class Builder {
 public:
  Builder(std::string source, std::uint64_t seed, std::size_t max_parameters)
      : source_(std::move(source)), seed_(seed), max_parameters_(max_parameters) {}

  Result<std::unique_ptr<Sequential>> Build(const json& layers) {
    std::vector<std::unique_ptr<Layer>> built;
    std::optional<Shape> input;
    std::string softmax_row;  // the name of the final softmax's own row, if an Activation layer
    std::optional<std::string> softmax_at;
    std::set<std::string> names;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const json& layer = layers[i];
      Where w{source_, i, "?", "?"};
      if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string())
        return Status::InvalidArgument(w() + "expected {\"class_name\": ..., \"config\": {...}}");
      w.type = layer["class_name"].get<std::string>();
      const json config = layer.contains("config") && layer["config"].is_object() ? layer["config"] : json::object();
      if (config.contains("name") && config["name"].is_string())
        w.name = config["name"].get<std::string>();
      else if (layer.contains("name") && layer["name"].is_string())
        w.name = layer["name"].get<std::string>();
      else
        w.name = "layer_" + std::to_string(i);
      if (!names.insert(w.name).second) return Status::InvalidArgument(w() + "a second layer with this name");
      if (softmax_at) {
        return Status::InvalidArgument(w() + "follows the softmax of '" + *softmax_at +
                                       "': softmax must be the model's last activation (asyncps fuses it into "
                                       "the cross-entropy loss)");
      }
      if (w.type == "InputLayer") {
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
      Result<Act> act = Act::kLinear;
      std::unique_ptr<Layer> l;
      if (w.type == "Conv2D" || w.type == "Convolution2D") {
        Result<std::unique_ptr<Layer>> c = Conv(w, config);
        if (!c.ok()) return c.status();
        l = std::move(c).value();
        act = ActivationOf(w, config);
      } else if (w.type == "Dense") {
        Result<std::unique_ptr<Layer>> d = DenseLayer(w, config);
        if (!d.ok()) return d.status();
        l = std::move(d).value();
        act = ActivationOf(w, config);
      } else if (w.type == "MaxPooling2D" || w.type == "AveragePooling2D" || w.type == "MaxPool2D" ||
                 w.type == "AvgPool2D" || w.type == "AveragePool2D") {
        Result<std::unique_ptr<Layer>> p = Pool(w, config);
        if (!p.ok()) return p.status();
        l = std::move(p).value();
      } else if (w.type == "Flatten") {
        l = std::make_unique<Flatten>();
      } else if (w.type == "Dropout") {
        const json* rate = Field(config, "rate");
        if (rate == nullptr || !rate->is_number() || !(rate->get<double>() >= 0 && rate->get<double>() < 1))
          return Refuse(w, "rate", rate ? *rate : json(), "expected a number in [0, 1)");
        std::uint64_t seed = seed_ * 0x9E3779B97F4A7C15ull + i;
        if (const json* s = Field(config, "seed")) {
          if (!s->is_number_integer()) return Refuse(w, "seed", *s, "expected an integer");
          seed = static_cast<std::uint64_t>(s->get<std::int64_t>());
        }
        l = std::make_unique<Dropout>(rate->get<float>(), seed);
      } else if (w.type == "Activation") {
        act = ActivationOf(w, config);
        if (!act.ok()) return act.status();
        if (act.value() == Act::kSoftmax) {
          softmax_at = w.name;
          softmax_row = w.name;
          continue;
        }
        l = ActivationLayer(act.value());
        act = Act::kLinear;
      } else {
        return Status::InvalidArgument(
            w() + "layer type '" + w.type +
            "' is not supported; supported: InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, "
            "Dropout, Activation");
      }
      if (!act.ok()) return act.status();
      l->set_name(w.name);
      built.push_back(std::move(l));
      if (act.value() == Act::kSoftmax) {
        softmax_at = w.name;
      } else if (act.value() != Act::kLinear) {
        std::unique_ptr<Layer> a = ActivationLayer(act.value());
        a->set_name(w.name + "/activation");
        a->set_fused(true);
        built.push_back(std::move(a));
      }
    }
    if (built.empty()) return Status::InvalidArgument(source_ + ": the model has no layers");
    if (!softmax_at) {
      return Status::InvalidArgument(source_ +
                                     ": the model must end in a softmax (Dense(..., activation='softmax') "
                                     "or Activation('softmax')): asyncps trains with categorical cross-entropy");
    }
    auto model = std::make_unique<Sequential>(*input);
    for (auto& l : built) model->Add(std::move(l));
    model->SetSoftmaxRow(softmax_row);
    if (Status st = model->Build(seed_, max_parameters_); !st.ok())
      return Status::InvalidArgument(source_ + ": " + st.message());
    if (model->output_shape().rank != 1) {
      return Status::InvalidArgument(source_ + ": the softmax of '" + *softmax_at + "' is over an image " +
                                     model->output_shape().ToString() +
                                     "; end the model in Flatten and Dense(classes, activation='softmax')");
    }
    return model;
  }

 private:
  static std::unique_ptr<Layer> ActivationLayer(Act a) {
    switch (a) {
      case Act::kRelu:
        return std::make_unique<ReLU>();
      case Act::kSigmoid:
        return std::make_unique<Activation>(ActivationKind::kSigmoid);
      case Act::kTanh:
        return std::make_unique<Activation>(ActivationKind::kTanh);
      default:
        return std::make_unique<Activation>(ActivationKind::kLinear);
    }
  }

  Result<std::unique_ptr<Layer>> Conv(const Where& w, const json& config) {
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
    return std::unique_ptr<Layer>(std::make_unique<Conv2D>(o));
  }

  Result<std::unique_ptr<Layer>> DenseLayer(const Where& w, const json& config) {
    Result<std::size_t> units = PositiveInt(w, config, "units", std::nullopt);
    if (!units.ok()) return units.status();
    Result<WeightsConfig> weights = WeightsOf(w, config);
    if (!weights.ok()) return weights.status();
    DenseOptions o{.use_bias = weights.value().use_bias,
                   .kernel_initializer = weights.value().kernel_initializer,
                   .bias_initializer = weights.value().bias_initializer};
    return std::unique_ptr<Layer>(std::make_unique<Dense>(units.value(), o));
  }

  Result<std::unique_ptr<Layer>> Pool(const Where& w, const json& config) {
    auto size = Pair(w, config, "pool_size", std::pair<std::size_t, std::size_t>{2, 2});
    if (!size.ok()) return size.status();
    auto strides = Pair(w, config, "strides", size.value());
    if (!strides.ok()) return strides.status();
    Result<Padding> padding = PaddingOf(w, config);
    if (!padding.ok()) return padding.status();
    const PoolOptions o{size.value().first, size.value().second, strides.value().first, strides.value().second,
                        padding.value()};
    if (w.type.rfind("Max", 0) == 0) return std::unique_ptr<Layer>(std::make_unique<MaxPool2D>(o));
    return std::unique_ptr<Layer>(std::make_unique<AvgPool2D>(o));
  }

  std::string source_;
  std::uint64_t seed_;
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
  if (top["class_name"] != "Sequential") {
    return Status::InvalidArgument(source + ": class_name = " + top["class_name"].dump() +
                                   ": only Sequential models are supported (rebuild it with keras.Sequential)");
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
    return Builder(source, seed, max_parameters).Build(*layers);
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
