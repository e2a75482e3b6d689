// libFuzzer target: the Keras HDF5 reader on a file of the fuzzer's bytes:
// models::LoadKerasModel (model_config, then the weights into the model) and
// models::ReadKerasH5 (weights-only files too). Either the model builds, its
// parts agree and (when small) it trains a step (fuzz_model.h), or the file is
// refused with a Status, and no HDF5 object stays open. libhdf5's own error
// printing is off (keras_h5.cpp). libhdf5 itself (Debian's 1.10, not
// instrumented) has bugs of its own that this target finds: fuzz/README.md, "Open".
#include <hdf5.h>

#include <cstdint>
#include <span>

#include "asyncps/models/keras_h5.h"
#include "asyncps/models/keras_model.h"
#include "fuzz_model.h"
#include "fuzz_temp_file.h"

using namespace asyncps;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = (fuzz::TempDir() / "model.h5").string();
  fuzz::WriteFile(path, std::span<const std::uint8_t>(data, size));
  Result<std::unique_ptr<models::Sequential>> model =
      models::LoadKerasModel(path, /*seed=*/1, fuzz::kFuzzMaxParameters);
  if (model.ok()) fuzz::ExerciseModel(*model.value());
  Result<models::KerasH5File> file = models::ReadKerasH5(path, fuzz::kFuzzMaxParameters);
  if (file.ok()) {
    std::size_t values = 0;
    for (const models::KerasH5Layer& l : file.value().layers)
      for (const models::NpyArray& a : l.weights) values += a.data.size();
    if (values > fuzz::kFuzzMaxParameters) fuzz::ModelFail("ReadKerasH5 read more values than max_values");
  }
  // Every file, group, dataset, attribute and type the readers opened is closed again.
  if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) fuzz::ModelFail("an HDF5 object stayed open");
  return 0;
}
