// asyncps-local: the main job. Starts a parameter server with S shards and W
// workers on 127.0.0.1, shows their progress, and prints the run's report.
#include "cli_parse.h"
#include "local_config.h"
#include "local_run.h"

int main(int argc, char** argv) {
  asyncps::tools::ParsedFlags<asyncps::launcher::LocalConfig> parsed = asyncps::launcher::ParseLocalFlags(argc, argv);
  if (!parsed.config) return asyncps::tools::PrintFlagsExit(parsed.exit);
  return asyncps::launcher::Run(*parsed.config);
}
