// libFuzzer target: the Keras JSON model reader (models::BuildKerasModel, what
// --model m.json and an .h5's model_config go through): any text either builds
// a model whose parts agree, and which trains a step when it is small, or is
// refused with a Status; nothing crashes, overflows or allocates beyond the
// model's bound (fuzz_model.h).
#include <cstdint>
#include <string_view>

#include "asyncps/models/keras_model.h"
#include "fuzz_model.h"

using namespace asyncps;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<std::unique_ptr<models::Sequential>> model =
      models::BuildKerasModel(text, "fuzz.json", /*seed=*/1, fuzz::kFuzzMaxParameters);
  if (!model.ok()) {
    if (model.status().message().empty()) fuzz::ModelFail("a refusal without a message");
    return 0;
  }
  fuzz::ExerciseModel(*model.value());
  return 0;
}
