// asyncps-server: serves one or more parameter shards over ZeroMQ.
#include "cli_parse.h"
#include "server_config.h"
#include "server_run.h"

int main(int argc, char** argv) {
  asyncps::tools::ParsedFlags<asyncps::ps::ServerConfig> parsed = asyncps::ps::ParseServerFlags(argc, argv);
  if (!parsed.config) return asyncps::tools::PrintFlagsExit(parsed.exit);
  return asyncps::ps::Run(*parsed.config);
}
