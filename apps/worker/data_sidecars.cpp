#include "data_sidecars.h"

#include <fstream>

#include <nlohmann/json.hpp>

namespace asyncps::worker {

namespace {
Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(1) << "\n";
  out.close();
  if (!out) return Status::IOError(path + ": cannot be written; check the directory and the free space");
  return Status::OK();
}
}  // namespace

std::string LabelMapPath(const std::string& weights_path) { return weights_path + ".labels.json"; }
std::string StandardizationPath(const std::string& weights_path) { return weights_path + ".standardize.json"; }

Status SaveDataSidecars(const std::string& weights_path, const models::Dataset& data) {
  if (!data.label_map.empty()) {
    if (Status st = WriteJson(LabelMapPath(weights_path), {{"labels", data.label_map}}); !st.ok()) return st;
  }
  if (!data.standardization.empty()) {
    const nlohmann::json j = {{"mean", data.standardization.mean}, {"stddev", data.standardization.stddev}};
    if (Status st = WriteJson(StandardizationPath(weights_path), j); !st.ok()) return st;
  }
  return Status::OK();
}

}  // namespace asyncps::worker
