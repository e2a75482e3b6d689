#include "asyncps/models/keras_h5.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "asyncps/models/optimizer.h"
#include "child_call.h"

namespace asyncps::models {
namespace {

// Owns one HDF5 identifier; closes it with the matching H5*close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// The most bytes one string attribute may hold (model_config, layer_names,
// weight_names): far above any real model's, far below memory.
constexpr std::size_t kMaxAttributeBytes = std::size_t{64} << 20;
// The highest rank of a weight (Keras' are at most 5: Conv3D kernels).
constexpr std::size_t kMaxRank = 8;

// Opens `path` only if it is a regular file (a FIFO or device would block or
// stream forever), with HDF5's plugin loading off: only the filters built into
// libhdf5 can ever run.
Result<hid_t> OpenReadOnly(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are returned, not printed
  H5PLset_loading_state(0);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  if (!S_ISREG(st.st_mode)) return Status::IOError(path + ": not a regular file (a FIFO, device or folder)");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    return Status::IOError(path + ": cannot open as an HDF5 file (missing, unreadable or not HDF5); check the path");
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return Status::IOError(path + ": cannot open as an HDF5 file");
  return file;
}

// OK if `name` (relative to loc, "a/b/c") exists and every link on the way is
// a hard link inside this file. External links (another file: any path on
// this machine) and soft links (which can lead to one) are refused before
// anything follows them.
Status CheckHardLinks(hid_t loc, const std::string& name, const std::string& where, const char* what) {
  std::size_t end = 0;
  do {
    end = name.find('/', end + 1);
    const std::string prefix = name.substr(0, end);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0)
      return Status::InvalidArgument(where + ": " + what + " '" + name + "' is missing");
    H5L_info_t info{};
    if (H5Lget_info(loc, prefix.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_HARD) {
      return Status::InvalidArgument(where + ": '" + prefix +
                                     "' is an external or soft link; only data inside the file is read");
    }
  } while (end != std::string::npos);
  return Status::OK();
}

// OK if the dataset's data lies inside the file, whole, in a layout we read:
// contiguous, chunked or compact storage, no external files, no virtual
// mapping, only the deflate and shuffle filters, and every byte allocated
// (unwritten data would be invented from the fill value).
Status CheckStorage(hid_t set, const std::string& what) {
  Handle dcpl(H5Dget_create_plist(set), H5Pclose);
  if (!dcpl.ok()) return Status::InvalidArgument(what + ": cannot read its storage properties");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
    return Status::InvalidArgument(what + ": virtual or unknown storage layout; only data inside the file is read");
  if (H5Pget_external_count(dcpl.get()) != 0)
    return Status::InvalidArgument(what + ": stored in external files; only data inside the file is read");
  const int filters = H5Pget_nfilters(dcpl.get());
  if (filters < 0) return Status::InvalidArgument(what + ": cannot read its filters");
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    std::size_t nvalues = 0;
    unsigned config = 0;
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues, nullptr, 0, nullptr, &config);
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE) {
      return Status::InvalidArgument(what + ": filter " + std::to_string(id) +
                                     " is not one this reader runs (deflate and shuffle only)");
    }
  }
  H5D_space_status_t status{};
  if (H5Dget_space_status(set, &status) < 0 || status != H5D_SPACE_STATUS_ALLOCATED)
    return Status::InvalidArgument(what + ": its data was never (fully) written");
  return Status::OK();
}

// The strings of a string attribute (scalar or 1-D; fixed or variable length,
// as h5py writes bytes and str).
Result<std::vector<std::string>> StringAttribute(hid_t obj, const char* name, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) return Status::InvalidArgument(where + ": attribute '" + name + "' is missing");
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!attr.ok() || !type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_STRING)
    return Status::InvalidArgument(where + ": attribute '" + name + "' is not a string");
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return Status::InvalidArgument(where + ": attribute '" + name + "' has no extent");
  const std::size_t element = H5Tis_variable_str(type.get()) > 0 ? sizeof(char*) : H5Tget_size(type.get());
  if (element == 0 || static_cast<std::size_t>(count) > kMaxAttributeBytes / element) {
    return Status::InvalidArgument(where + ": attribute '" + name + "' claims more than " +
                                   std::to_string(kMaxAttributeBytes >> 20) + " MiB");
  }
  std::vector<std::string> out;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(static_cast<std::size_t>(count), nullptr);
    if (count > 0 && H5Aread(attr.get(), mem.get(), ptrs.data()) < 0)
      return Status::InvalidArgument(where + ": cannot read attribute '" + name + "'");
    std::size_t total = 0;
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      total += out.back().size();
    }
    if (count > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    if (total > kMaxAttributeBytes) {
      return Status::InvalidArgument(where + ": attribute '" + name + "' holds more than " +
                                     std::to_string(kMaxAttributeBytes >> 20) + " MiB");
    }
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buf(size * static_cast<std::size_t>(count) + 1, '\0');
  if (count > 0 && H5Aread(attr.get(), type.get(), buf.data()) < 0)
    return Status::InvalidArgument(where + ": cannot read attribute '" + name + "'");
  for (hssize_t i = 0; i < count; ++i) {
    const char* s = buf.data() + static_cast<std::size_t>(i) * size;
    out.emplace_back(s, std::find(s, s + size, '\0'));  // fixed-length strings are NUL padded
  }
  return out;
}

// Reads one float dataset, converted to float32, if its element count fits in
// `*budget` (the floats the model can still take); takes them from *budget.
Result<NpyArray> ReadFloatDataset(hid_t group, const std::string& name, const std::string& where, std::size_t* budget) {
  if (Status st = CheckHardLinks(group, name, where, "dataset (listed in weight_names)"); !st.ok()) return st;
  const std::string what = where + ": dataset '" + name + "'";
  Handle set(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  Handle space(set.ok() ? H5Dget_space(set.get()) : -1, H5Sclose);
  Handle type(set.ok() ? H5Dget_type(set.get()) : -1, H5Tclose);
  if (!set.ok() || !space.ok() || !type.ok() || H5Tget_class(type.get()) != H5T_FLOAT)
    return Status::InvalidArgument(where + ": '" + name + "' is not a float dataset");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || static_cast<std::size_t>(rank) > kMaxRank)
    return Status::InvalidArgument(where + ": '" + name + "' has an unsupported rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  NpyArray a;
  a.name = name;
  std::size_t n = 1;
  for (hsize_t d : dims) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) {
      return Status::InvalidArgument(what + " claims a shape whose size overflows");
    }
    a.shape.push_back(static_cast<std::size_t>(d));
    n *= static_cast<std::size_t>(d);
  }
  if (n > *budget) {
    return Status::InvalidArgument(what + " claims shape " + ShapeToString(a.shape) + " (" + std::to_string(n) +
                                   " values): more than the model's " + std::to_string(*budget) +
                                   " values not yet read; was it saved from a different model?");
  }
  if (Status st = CheckStorage(set.get(), what); !st.ok()) return st;
  *budget -= n;
  a.data.resize(n);
  if (n > 0 && H5Dread(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    return Status::InvalidArgument(where + ": cannot read dataset '" + name + "'");
  return a;
}

// Writes a string attribute: one fixed-length, NUL-padded string per element
// (what h5py writes for a numpy 'S' array), a scalar when `scalar`.
bool WriteStrings(hid_t obj, const char* name, const std::vector<std::string>& values, bool scalar) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  const hsize_t n = values.size();
  Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return false;
  std::vector<char> buf(width * std::max<std::size_t>(values.size(), 1), '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buf.begin() + i * width);
  return H5Awrite(attr.get(), type.get(), buf.data()) >= 0;
}

}  // namespace

Status SaveKerasH5Weights(const std::string& path, const ParameterLayout& layout, std::span<const float> params) {
  if (params.size() != layout.total_size())
    return Status::InvalidArgument(path + ": the parameter buffer does not match the layout");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const Status failed = Status::IOError(path + ": cannot write the HDF5 weights file; check the path and free space");
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return failed;
  // Tensors "<layer>/<weight>" in layout order, grouped by layer.
  std::vector<std::string> layers;
  std::vector<std::vector<std::size_t>> tensors;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const std::string& t = layout.tensors()[i].name;
    const std::string layer = t.substr(0, t.rfind('/'));
    if (layers.empty() || layers.back() != layer) {
      layers.push_back(layer);
      tensors.emplace_back();
    }
    tensors.back().push_back(i);
  }
  if (!WriteStrings(file.get(), "layer_names", layers, false) ||
      !WriteStrings(file.get(), "backend", {"tensorflow"}, true) ||
      !WriteStrings(file.get(), "keras_version", {"2.11.0"}, true))
    return failed;
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  for (std::size_t k = 0; k < layers.size(); ++k) {
    Handle group(H5Gcreate2(file.get(), layers[k].c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!group.ok()) return failed;
    std::vector<std::string> names;
    for (std::size_t i : tensors[k]) names.push_back(layout.tensors()[i].name + ":0");
    if (!WriteStrings(group.get(), "weight_names", names, false)) return failed;
    for (std::size_t j = 0; j < names.size(); ++j) {
      const TensorSpec& t = layout.tensors()[tensors[k][j]];
      std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
      Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
      Handle set(
          H5Dcreate2(group.get(), names[j].c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
          H5Dclose);
      if (!set.ok() || H5Dwrite(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                params.data() + layout.offset(tensors[k][j])) < 0)
        return failed;
    }
  }
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) return failed;
  return Status::OK();
}

namespace {

// The string attribute `name` (model_config, training_config) of an open file, or "".
Result<std::string> OneStringAttribute(hid_t file, const char* name, const std::string& path) {
  if (H5Aexists(file, name) <= 0) return std::string();
  Result<std::vector<std::string>> config = StringAttribute(file, name, path);
  if (!config.ok()) return config.status();
  if (config.value().size() != 1) return Status::InvalidArgument(path + ": attribute '" + name + "' is not one string");
  return std::move(config.value()[0]);
}

Result<std::string> ModelConfig(hid_t file, const std::string& path) {
  return OneStringAttribute(file, "model_config", path);
}

Result<std::string> ReadStringAttributeHere(const std::string& path, const char* name) {
  Result<hid_t> opened = OpenReadOnly(path);
  if (!opened.ok()) return opened.status();
  Handle file(opened.value(), H5Fclose);
  return OneStringAttribute(file.get(), name, path);
}

Result<KerasH5File> ReadKerasH5Here(const std::string& path, std::size_t max_values) {
  Result<hid_t> opened = OpenReadOnly(path);
  if (!opened.ok()) return opened.status();
  Handle file(opened.value(), H5Fclose);
  Result<std::string> config = ModelConfig(file.get(), path);
  if (!config.ok()) return config.status();
  KerasH5File out;
  out.model_config = std::move(config).value();
  hid_t weights_root = file.get();
  std::optional<Handle> model_weights;
  if (!out.model_config.empty()) {
    if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) <= 0)
      return Status::InvalidArgument(path + ": group 'model_weights' is missing (save the model with model.save)");
    if (Status st = CheckHardLinks(file.get(), "model_weights", path, "group"); !st.ok()) return st;
    model_weights.emplace(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!model_weights->ok()) return Status::InvalidArgument(path + ": 'model_weights' is not a group");
    weights_root = model_weights->get();
  }
  const std::string root_name = model_weights ? path + ": model_weights" : path;
  Result<std::vector<std::string>> layer_names = StringAttribute(weights_root, "layer_names", root_name);
  if (!layer_names.ok()) return layer_names.status();
  std::size_t budget = max_values;
  for (const std::string& layer : layer_names.value()) {
    const std::string where = path + ": layer group '" + layer + "'";
    if (H5Lexists(weights_root, layer.c_str(), H5P_DEFAULT) <= 0)
      return Status::InvalidArgument(where + " (listed in layer_names) is missing");
    if (Status st = CheckHardLinks(weights_root, layer, path, "layer group"); !st.ok()) return st;
    Handle group(H5Gopen2(weights_root, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) return Status::InvalidArgument(where + " is not a group");
    Result<std::vector<std::string>> names = StringAttribute(group.get(), "weight_names", where);
    if (!names.ok()) return names.status();
    KerasH5Layer l;
    l.name = layer;
    for (const std::string& w : names.value()) {
      Result<NpyArray> a = ReadFloatDataset(group.get(), w, where, &budget);
      if (!a.ok()) return a.status();
      l.weights.push_back(std::move(a).value());
    }
    out.layers.push_back(std::move(l));
  }
  return out;
}

// The child's answer (RunInChild) for a KerasH5File: u64 little-endian counts
// and lengths, strings as length + bytes, floats as their bytes:
//   config, layer count, per layer: name, weight count, per weight: name,
//   rank, dims, value count, values.
class Writer {
 public:
  void U64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Bytes(std::string_view b) {
    U64(b.size());
    out_.append(b);
  }
  void Floats(const std::vector<float>& v) {
    U64(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string EncodeKerasH5File(const KerasH5File& file) {
  Writer w;
  w.Bytes(file.model_config);
  w.U64(file.layers.size());
  for (const KerasH5Layer& l : file.layers) {
    w.Bytes(l.name);
    w.U64(l.weights.size());
    for (const NpyArray& a : l.weights) {
      w.Bytes(a.name);
      w.U64(a.shape.size());
      for (std::size_t d : a.shape) w.U64(d);
      w.Floats(a.data);
    }
  }
  return w.Take();
}

// Reads what Writer wrote; every count and length is checked against what is
// left before it is used (the child that wrote it parsed a hostile file).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U64(std::uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= std::uint64_t{static_cast<unsigned char>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool Bytes(std::string* s) {
    std::uint64_t n = 0;
    if (!U64(&n) || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool Floats(std::vector<float>* v, std::size_t* budget) {
    std::uint64_t n = 0;
    if (!U64(&n) || n > *budget || n > in_.size() / sizeof(float)) return false;
    v->resize(n);
    std::memcpy(v->data(), in_.data(), n * sizeof(float));
    in_.remove_prefix(n * sizeof(float));
    *budget -= n;
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Result<KerasH5File> DecodeKerasH5File(std::string_view bytes, std::size_t max_values, const std::string& path) {
  const Status malformed = Status::Internal(path + ": the HDF5 reader's answer is malformed");
  Reader r(bytes);
  KerasH5File file;
  std::uint64_t layers = 0;
  if (!r.Bytes(&file.model_config) || !r.U64(&layers)) return malformed;
  std::size_t budget = max_values;
  for (std::uint64_t i = 0; i < layers; ++i) {
    KerasH5Layer l;
    std::uint64_t weights = 0;
    if (!r.Bytes(&l.name) || !r.U64(&weights)) return malformed;
    for (std::uint64_t k = 0; k < weights; ++k) {
      NpyArray a;
      std::uint64_t rank = 0;
      if (!r.Bytes(&a.name) || !r.U64(&rank) || rank > kMaxRank) return malformed;
      std::optional<std::size_t> count = 1;
      for (std::uint64_t d = 0; d < rank; ++d) {
        std::uint64_t dim = 0;
        if (!r.U64(&dim)) return malformed;
        a.shape.push_back(dim);
        count = count && (dim == 0 || *count <= max_values / dim) ? std::optional(*count * dim) : std::nullopt;
      }
      if (!r.Floats(&a.data, &budget) || !count || *count != a.data.size()) return malformed;
      l.weights.push_back(std::move(a));
    }
    file.layers.push_back(std::move(l));
  }
  if (!r.done()) return malformed;
  return file;
}

// What a reading child may use: libhdf5's own state and caches, the strings
// (kMaxAttributeBytes each), and the values read, encoded and sent.
ChildLimits ReadLimits(std::size_t max_values, std::chrono::milliseconds time_limit) {
  ChildLimits limits;
  limits.time = time_limit;
  limits.memory_bytes = (std::size_t{512} << 20) + 3 * sizeof(float) * max_values;
  limits.output_bytes = 4 * kMaxAttributeBytes + sizeof(float) * max_values;
  return limits;
}

}  // namespace

Result<std::string> ReadKerasH5ModelConfig(const std::string& path, std::chrono::milliseconds time_limit) {
  return RunInChild([&]() { return ReadStringAttributeHere(path, "model_config"); }, ReadLimits(0, time_limit),
                    path + ": libhdf5");
}

Result<std::string> ReadKerasH5TrainingConfig(const std::string& path, std::chrono::milliseconds time_limit) {
  return RunInChild([&]() { return ReadStringAttributeHere(path, "training_config"); }, ReadLimits(0, time_limit),
                    path + ": libhdf5");
}

Result<KerasH5File> ReadKerasH5(const std::string& path, std::size_t max_values, std::chrono::milliseconds time_limit) {
  Result<std::string> bytes = RunInChild(
      [&]() -> Result<std::string> {
        Result<KerasH5File> file = ReadKerasH5Here(path, max_values);
        if (!file.ok()) return file.status();
        return EncodeKerasH5File(file.value());
      },
      ReadLimits(max_values, time_limit), path + ": libhdf5");
  if (!bytes.ok()) return bytes.status();
  return DecodeKerasH5File(bytes.value(), max_values, path);
}

Status SetKerasWeights(const KerasH5File& file, const std::string& source, const ParameterLayout& layout,
                       std::span<float> params) {
  if (params.size() != layout.total_size())
    return Status::InvalidArgument(source + ": the parameter buffer does not match the layout");
  // The model's layers with weights, in order: runs of tensors sharing "<layer>/".
  struct ModelLayer {
    std::string name;
    std::vector<std::size_t> tensors;
  };
  std::vector<ModelLayer> model;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const std::string& t = layout.tensors()[i].name;
    const std::string layer = t.substr(0, t.rfind('/'));
    if (model.empty() || model.back().name != layer) model.push_back({layer, {}});
    model.back().tensors.push_back(i);
  }
  std::vector<const KerasH5Layer*> with_weights;
  for (const auto& l : file.layers)
    if (!l.weights.empty()) with_weights.push_back(&l);
  if (with_weights.size() != model.size()) {
    return Status::InvalidArgument(source + ": " + std::to_string(with_weights.size()) +
                                   " layers with weights in the file, the model has " + std::to_string(model.size()) +
                                   "; was it saved from a different model?");
  }
  for (std::size_t k = 0; k < model.size(); ++k) {
    const KerasH5Layer& f = *with_weights[k];
    const ModelLayer& m = model[k];
    if (f.weights.size() != m.tensors.size()) {
      return Status::InvalidArgument(source + ": layer '" + f.name + "' holds " + std::to_string(f.weights.size()) +
                                     " weights, the model's layer '" + m.name + "' " +
                                     std::to_string(m.tensors.size()) + " (use_bias differs?)");
    }
    for (std::size_t j = 0; j < m.tensors.size(); ++j) {
      const TensorSpec& t = layout.tensors()[m.tensors[j]];
      if (f.weights[j].shape != t.shape) {
        return Status::InvalidArgument(source + ": weight '" + f.weights[j].name + "' of layer '" + f.name +
                                       "' has shape " + ShapeToString(f.weights[j].shape) + ", the model's '" + t.name +
                                       "' is " + ShapeToString(t.shape));
      }
    }
  }
  for (std::size_t k = 0; k < model.size(); ++k)
    for (std::size_t j = 0; j < model[k].tensors.size(); ++j) {
      const std::vector<float>& d = with_weights[k]->weights[j].data;
      std::copy(d.begin(), d.end(), params.begin() + static_cast<std::ptrdiff_t>(layout.offset(model[k].tensors[j])));
    }
  return Status::OK();
}

Result<Loss> LossFromTrainingConfig(std::string_view training_config, const std::string& source) {
  const nlohmann::json config = nlohmann::json::parse(training_config, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("loss"))
    return Status::InvalidArgument(source + ": training_config is not a JSON object with a \"loss\"");
  const nlohmann::json& loss = config["loss"];
  if (loss.is_string()) {
    Result<Loss> l = ParseLoss(loss.get<std::string>());
    if (!l.ok()) return Status::InvalidArgument(source + ": training_config: " + l.status().message());
    return l;
  }
  if (!loss.is_object() || !loss.contains("class_name") || !loss["class_name"].is_string()) {
    return Status::InvalidArgument(source + ": training_config's loss " + loss.dump().substr(0, 200) +
                                   " is not one loss (asyncps trains one output with one loss)");
  }
  // "BinaryCrossentropy" -> "binary_crossentropy".
  std::string name;
  for (char c : loss["class_name"].get<std::string>()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !name.empty()) name += '_';
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  Result<Loss> l = ParseLoss(name);
  if (!l.ok()) return Status::InvalidArgument(source + ": training_config: " + l.status().message());
  const nlohmann::json options = loss.value("config", nlohmann::json::object());
  if (options.is_object()) {
    if (options.contains("from_logits") && options["from_logits"].is_boolean())
      l.value().from_logits = options["from_logits"].get<bool>();
    if (options.contains("delta") && options["delta"].is_number()) {
      const double delta = options["delta"].get<double>();
      if (!(delta > 0 && std::isfinite(delta)))
        return Status::InvalidArgument(source + ": training_config: Huber delta must be a number > 0");
      l.value().huber_delta = delta;
    }
  }
  return l;
}

Result<std::optional<TrainingOptimizer>> OptimizerFromTrainingConfig(std::string_view training_config,
                                                                     const std::string& source) {
  const nlohmann::json config = nlohmann::json::parse(training_config, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return Status::InvalidArgument(source + ": training_config is not a JSON object");
  if (!config.contains("optimizer_config")) return std::optional<TrainingOptimizer>();
  const nlohmann::json& o = config["optimizer_config"];
  if (!o.is_object() || !o.contains("class_name") || !o["class_name"].is_string())
    return Status::InvalidArgument(source + ": training_config's optimizer_config has no class_name");
  TrainingOptimizer out;
  for (char c : o["class_name"].get<std::string>())
    out.name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!MakeOptimizer(out.name, 0.0f).ok())
    return Status::InvalidArgument(source + ": training_config's optimizer " + o["class_name"].get<std::string>() +
                                   " is not one asyncps implements (sgd, adam, adagrad, rmsprop): give --optimizer");
  const nlohmann::json options = o.value("config", nlohmann::json::object());
  for (const char* key : {"learning_rate", "lr"}) {
    if (!options.is_object() || !options.contains(key)) continue;
    const nlohmann::json& lr = options[key];
    if (!lr.is_number() || !(lr.get<double>() >= 0) || !std::isfinite(lr.get<double>()))
      return Status::InvalidArgument(source + ": training_config's learning rate " + lr.dump().substr(0, 200) +
                                     " is not a number >= 0 (a schedule is not read): give --lr");
    out.learning_rate = lr.get<float>();
    break;
  }
  return std::optional(out);
}

}  // namespace asyncps::models
