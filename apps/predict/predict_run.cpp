#include "predict_run.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <utility>

#include "asyncps/models/blas_threads.h"
#include "asyncps/models/csv_reader.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/loss.h"
#include "asyncps/models/numpy_data.h"
#include "output_path.h"

namespace asyncps::predict {

namespace {

// `prefix` before a reader's message, keeping its code.
Status Prefixed(const std::string& prefix, const Status& st) {
  const std::string m = prefix + st.message();
  return st.code() == Status::Code::kIOError ? Status::IOError(m) : Status::InvalidArgument(m);
}

// A CSV cell: as written, quoted when it holds a comma, a quote or a line break.
std::string Cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

std::string Number(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", static_cast<double>(v));
  return text;
}

bool TabularCsv(const PredictConfig& c) {
  if (KindOf(c.data) != DataKind::kCsv) return false;
  Result<models::CsvOptions> co = worker::CsvReadOptions(c.model);
  return co.ok() && co.value().mode == models::CsvMode::kTabular;
}

// Every row of --data, unlabelled; ids: the --id-column cells.
Result<models::Dataset> ReadAll(const PredictConfig& c, std::vector<std::string>* ids) {
  const float divisor = c.model.divisor;
  if (KindOf(c.data) == DataKind::kCsv) {
    Result<models::CsvOptions> co = worker::CsvReadOptions(c.model);
    if (!co.ok()) return co.status();
    co.value().skip_labels = true;
    co.value().id_column = c.id_column;
    if (!std::ifstream(c.data))
      return Status::IOError("--data " + c.data + ": cannot be opened for reading; check the path");
    Result<models::Dataset> d = models::ReadCsv(c.data, co.value(), ids);
    return d.ok() ? d : Prefixed("--data: ", d.status());  // the reader's message names the file
  }
  if (KindOf(c.data) == DataKind::kNumpy) {
    Result<models::Dataset> d = models::LoadNumpySamples(c.data, divisor);
    return d.ok() ? d : Prefixed("--data ", d.status());  // the message starts with the path
  }
  Result<models::Dataset> d = models::LoadMnist({.dir = c.data, .divisor = divisor}, models::Split::kTest);
  if (!d.ok()) return Prefixed("--data " + c.data + ": ", d.status());
  d.value().labels.clear();
  d.value().unlabelled = true;
  return d;
}

// The CSV's header: the id, the prediction (one column per output of a
// multi-output regression), the probabilities.
std::string Header(const PredictConfig& c, const std::vector<std::string>& class_names, std::size_t values) {
  std::string h;
  if (!c.id_column.empty())
    h += (c.id_column.find_first_not_of("0123456789") == std::string::npos ? "id" : Cell(c.id_column)) + ",";
  if (values > 1) {
    for (std::size_t k = 0; k < values; ++k) h += (k ? ",prediction_" : "prediction_") + std::to_string(k);
  } else {
    h += "prediction";
  }
  if (c.probabilities)
    for (const std::string& name : class_names) h += "," + Cell("probability_" + name);
  return h + "\n";
}

}  // namespace

Result<Samples> LoadSamples(const PredictConfig& c, const worker::DataSidecars& sidecars) {
  const std::string scaling_path = worker::StandardizationPath(c.weights);
  if (c.standardize && sidecars.standardization.empty()) {
    return Status::InvalidArgument("--standardize: " + scaling_path +
                                   " is missing; the training run writes it beside --save-weights: keep it beside "
                                   "--weights");
  }
  Samples s;
  Result<models::Dataset> all = ReadAll(c, &s.ids);
  if (!all.ok()) return all.status();
  s.data = std::move(all).value();
  const models::Standardization& scaling = sidecars.standardization;
  if (!scaling.empty() && scaling.mean.size() != s.data.sample_size()) {
    return Status::InvalidArgument(scaling_path + " holds the figures of " + std::to_string(scaling.mean.size()) +
                                   " features, but --data " + c.data + " has " + std::to_string(s.data.sample_size()) +
                                   " per row; read it with the training's columns (--feature-columns, "
                                   "--drop-columns, --id-column)");
  }
  if (!scaling.empty()) {
    if (Status st = models::ApplyStandardization(scaling, s.data); !st.ok()) return Prefixed(scaling_path + ": ", st);
  }
  return s;
}

int Run(const PredictConfig& c) {
  const auto fail = [](const Status& st) {
    std::fprintf(stderr, "asyncps-predict: %s\n", st.message().c_str());
    return 1;
  };
  if (c.output != "-") {
    if (Status st = worker::CheckOutputPath("--output", c.output); !st.ok()) return fail(st);
  }
  if (!std::ifstream(c.weights))
    return fail(Status::IOError("--weights " + c.weights + ": cannot be opened for reading; check the path"));
  Result<worker::DataSidecars> sidecars = worker::LoadDataSidecars(c.weights);
  if (!sidecars.ok()) return fail(sidecars.status());
  const std::vector<std::string>& label_map = sidecars.value().label_map;
  Result<Samples> samples = LoadSamples(c, sidecars.value());
  if (!samples.ok()) return fail(samples.status());
  models::Dataset& d = samples.value().data;
  if (!label_map.empty()) d.num_classes = label_map.size();  // the seed CNN's outputs

  Result<std::unique_ptr<models::Sequential>> built = c.model.BuildModelForInputs(d);
  if (!built.ok()) return fail(built.status());
  models::Sequential& m = *built.value();
  if (Status st = models::LoadInitialWeights(c.weights, m); !st.ok()) return fail(Prefixed("--weights: ", st));

  const models::Loss& loss = m.loss();
  const std::string loss_name = models::LossName(loss.kind);
  const bool binary = loss.kind == models::LossKind::kBinaryCrossentropy;
  const std::size_t units = m.num_classes();
  const std::string labels_path = worker::LabelMapPath(c.weights);
  std::vector<std::string> class_names;  // class index -> what the CSV says
  if (loss.classification()) {
    const std::size_t classes = binary ? 2 : units;
    if (!label_map.empty() && label_map.size() != classes) {
      return fail(Status::InvalidArgument(labels_path + " holds " + std::to_string(label_map.size()) +
                                          " labels, but the model (--model " + c.model.model + ", " + loss_name +
                                          ") predicts " + std::to_string(classes) +
                                          " classes: are they the same run's?"));
    }
    if (label_map.empty() && TabularCsv(c)) {
      return fail(Status::InvalidArgument(labels_path +
                                          " is missing: a model trained on tabular CSV predicts class indices, and "
                                          "the training run saved their labels there (beside --save-weights): keep "
                                          "it beside --weights"));
    }
    for (std::size_t k = 0; k < classes; ++k)
      class_names.push_back(label_map.empty() ? std::to_string(k) : label_map[k]);
  } else {
    if (!label_map.empty())
      return fail(Status::InvalidArgument(labels_path + " names classes, but " + loss_name +
                                          " is a regression loss: give the training's --loss"));
    if (c.probabilities)
      return fail(
          Status::InvalidArgument("--probabilities is for classifiers; " + loss_name + " is a regression loss"));
  }
  if (Status st = m.Reserve(std::min(c.batch_size, std::max<std::size_t>(d.size(), 1))); !st.ok()) return fail(st);
  models::SetBlasThreads(c.model.blas_threads);

  std::FILE* out = c.output == "-" ? stdout : std::fopen(c.output.c_str(), "w");
  if (out == nullptr) return fail(Status::IOError("--output " + c.output + ": cannot be opened for writing"));
  std::string text = c.worker_index == 0 ? Header(c, class_names, loss.classification() ? 1 : units) : "";
  std::vector<float> outputs;
  // This share's rows, in the batches the whole run has (those at its ends in
  // full): a batch's size can change the GEMM kernel and a row's last bits, and
  // the shares' outputs must concatenate to the whole's.
  const auto [begin, end] = models::PartitionBounds(d.size(), c.worker_index, c.num_workers);
  for (std::size_t b0 = begin / c.batch_size * c.batch_size; b0 < end; b0 += c.batch_size) {
    const std::size_t bs = std::min(c.batch_size, d.size() - b0);
    std::span<const float> z = m.Forward(d.image(b0), bs, /*training=*/false);
    outputs.resize(bs * units);
    // Classes' probabilities come from the logits whatever the last layer (from_logits).
    const models::OutputActivation a = !loss.classification() ? m.output_activation()
                                       : binary               ? models::OutputActivation::kSigmoid
                                                              : models::OutputActivation::kSoftmax;
    models::ApplyOutputActivation(a, z.data(), bs, units, outputs.data());
    for (std::size_t i = b0 < begin ? begin - b0 : 0; i < bs && b0 + i < end; ++i) {
      if (!samples.value().ids.empty()) text += Cell(samples.value().ids[b0 + i]) + ",";
      const float* zi = z.data() + i * units;
      const float* oi = outputs.data() + i * units;
      if (!loss.classification()) {
        for (std::size_t k = 0; k < units; ++k) text += (k ? "," : "") + Number(oi[k]);
      } else {
        const std::size_t cls =
            binary ? (zi[0] > 0 ? 1 : 0) : static_cast<std::size_t>(std::max_element(zi, zi + units) - zi);
        text += Cell(class_names[cls]);
        if (c.probabilities && binary) text += "," + Number(1 - oi[0]) + "," + Number(oi[0]);
        if (c.probabilities && !binary)
          for (std::size_t k = 0; k < units; ++k) text += "," + Number(oi[k]);
      }
      text += "\n";
    }
    std::fwrite(text.data(), 1, text.size(), out);
    text.clear();
  }
  std::fwrite(text.data(), 1, text.size(), out);  // the header of an empty share
  const bool written = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout && std::fclose(out) != 0) return fail(Status::IOError("--output " + c.output + ": write failed"));
  if (!written) return fail(Status::IOError("--output " + c.output + ": write failed"));
  return 0;
}

}  // namespace asyncps::predict
