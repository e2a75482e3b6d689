// asyncps-predict: a trained Keras model's predictions for a data file, as CSV.
#include "cli_parse.h"
#include "predict_config.h"
#include "predict_run.h"

int main(int argc, char** argv) {
  asyncps::tools::ParsedFlags<asyncps::predict::PredictConfig> parsed = asyncps::predict::ParsePredictFlags(argc, argv);
  if (!parsed.config) return asyncps::tools::PrintFlagsExit(parsed.exit);
  return asyncps::predict::Run(*parsed.config);
}
