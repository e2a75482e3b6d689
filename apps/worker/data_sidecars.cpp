#include "data_sidecars.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "asyncps/models/csv_reader.h"

namespace asyncps::worker {

namespace {
Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(1) << "\n";
  out.close();
  if (!out) return Status::IOError(path + ": cannot be written; check the directory and the free space");
  return Status::OK();
}

// The file's JSON object; nullopt when the file does not exist.
Result<std::optional<nlohmann::json>> ReadJson(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<nlohmann::json>();
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot be opened for reading");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  return std::optional<nlohmann::json>(std::move(j));
}

Result<std::vector<float>> Figures(const std::string& path, const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_array() || j[key].empty())
    return Status::InvalidArgument(path + ": \"" + key + "\" must be a non-empty array of numbers");
  std::vector<float> v;
  for (const nlohmann::json& x : j[key]) {
    if (!x.is_number() || !std::isfinite(x.get<double>()))
      return Status::InvalidArgument(path + ": \"" + key + "\" holds " + x.dump() + ", not a finite number");
    v.push_back(x.get<float>());
  }
  return v;
}
}  // namespace

std::string LabelMapPath(const std::string& weights_path) { return weights_path + ".labels.json"; }
std::string StandardizationPath(const std::string& weights_path) { return weights_path + ".standardize.json"; }

Status SaveDataSidecars(const std::string& weights_path, const models::Dataset& data) {
  std::error_code ec;  // a sidecar of an earlier run with these weights' name does not describe them
  if (!data.label_map.empty()) {
    if (Status st = WriteJson(LabelMapPath(weights_path), {{"labels", data.label_map}}); !st.ok()) return st;
  } else {
    std::filesystem::remove(LabelMapPath(weights_path), ec);
  }
  if (!data.standardization.empty()) {
    const nlohmann::json j = {{"mean", data.standardization.mean}, {"stddev", data.standardization.stddev}};
    if (Status st = WriteJson(StandardizationPath(weights_path), j); !st.ok()) return st;
  } else {
    std::filesystem::remove(StandardizationPath(weights_path), ec);
  }
  return Status::OK();
}

Result<DataSidecars> LoadDataSidecars(const std::string& weights_path) {
  DataSidecars s;
  const std::string labels_path = LabelMapPath(weights_path);
  Result<std::optional<nlohmann::json>> labels = ReadJson(labels_path);
  if (!labels.ok()) return labels.status();
  if (labels.value()) {
    const nlohmann::json& j = *labels.value();
    if (!j.contains("labels") || !j["labels"].is_array())
      return Status::InvalidArgument(labels_path + ": expected {\"labels\": [...]}, the class index's labels");
    for (const nlohmann::json& l : j["labels"]) {
      if (!l.is_string() || l.get<std::string>().empty())
        return Status::InvalidArgument(labels_path + ": label " + l.dump() + " is not a non-empty string");
      s.label_map.push_back(l.get<std::string>());
    }
    if (s.label_map.size() < 2 || s.label_map.size() > models::kMaxClasses ||
        std::set<std::string>(s.label_map.begin(), s.label_map.end()).size() != s.label_map.size())
      return Status::InvalidArgument(labels_path + ": expected 2 to " + std::to_string(models::kMaxClasses) +
                                     " distinct labels, found " + std::to_string(s.label_map.size()) + " (" +
                                     j["labels"].dump() + ")");
  }
  const std::string scaling_path = StandardizationPath(weights_path);
  Result<std::optional<nlohmann::json>> scaling = ReadJson(scaling_path);
  if (!scaling.ok()) return scaling.status();
  if (scaling.value()) {
    Result<std::vector<float>> mean = Figures(scaling_path, *scaling.value(), "mean");
    if (!mean.ok()) return mean.status();
    Result<std::vector<float>> stddev = Figures(scaling_path, *scaling.value(), "stddev");
    if (!stddev.ok()) return stddev.status();
    if (mean.value().size() != stddev.value().size())
      return Status::InvalidArgument(scaling_path + ": " + std::to_string(mean.value().size()) + " means but " +
                                     std::to_string(stddev.value().size()) + " standard deviations");
    for (float sd : stddev.value())
      if (!(sd > 0)) return Status::InvalidArgument(scaling_path + ": a standard deviation is not > 0");
    s.standardization = {std::move(mean).value(), std::move(stddev).value()};
  }
  return s;
}

}  // namespace asyncps::worker
