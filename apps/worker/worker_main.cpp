// asyncps-worker: trains the seed CNN on its partition of the data and talks to
// the parameter server through the client library.
#include "cli_parse.h"
#include "worker_config.h"
#include "worker_run.h"

int main(int argc, char** argv) {
  asyncps::tools::ParsedFlags<asyncps::worker::WorkerConfig> parsed = asyncps::worker::ParseWorkerFlags(argc, argv);
  if (!parsed.config) return asyncps::tools::PrintFlagsExit(parsed.exit);
  return asyncps::worker::Run(*parsed.config);
}
