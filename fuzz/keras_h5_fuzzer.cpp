// libFuzzer target: the Keras HDF5 reader on a file of the fuzzer's bytes:
// models::LoadKerasModel (model_config, then the weights into the model) and
// models::ReadKerasH5 (weights-only files too). Either the model builds, its
// parts agree and (when small) it trains a step (fuzz_model.h), or the file is
// refused with a Status. The readers run libhdf5 in a child process
// (keras_h5.h): libhdf5's own crashes and loops on crafted files (Debian's
// 1.10, not instrumented; fuzz/README.md) end the child, and must come back as
// a Status here. The child's coverage is not fed back to libFuzzer: this
// target covers our side of the boundary (what the child answers, the model
// built from it), as a worker runs it.
#include <chrono>
#include <cstdint>
#include <span>

#include "asyncps/models/keras_h5.h"
#include "asyncps/models/keras_model.h"
#include "fuzz_model.h"
#include "fuzz_temp_file.h"

using namespace asyncps;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Short enough that an input libhdf5 loops on costs little fuzzing time.
  constexpr std::chrono::milliseconds kTimeLimit{500};
  static const std::string path = (fuzz::TempDir() / "model.h5").string();
  fuzz::WriteFile(path, std::span<const std::uint8_t>(data, size));
  Result<std::unique_ptr<models::Sequential>> model =
      models::LoadKerasModel(path, /*seed=*/1, fuzz::kFuzzMaxParameters, kTimeLimit);
  if (model.ok()) fuzz::ExerciseModel(*model.value());
  Result<models::KerasH5File> file = models::ReadKerasH5(path, fuzz::kFuzzMaxParameters, kTimeLimit);
  if (file.ok()) {
    std::size_t values = 0;
    for (const models::KerasH5Layer& l : file.value().layers)
      for (const models::NpyArray& a : l.weights) values += a.data.size();
    if (values > fuzz::kFuzzMaxParameters) fuzz::ModelFail("ReadKerasH5 read more values than max_values");
  }
  return 0;
}
