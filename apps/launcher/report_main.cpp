// asyncps-report: evaluates the weights held by a running parameter server and
// prints the run's report, from the workers' JSON reports (for the timing). For
// container deployments, where no asyncps-local supervises the run.
#include "cli_parse.h"
#include "report_config.h"
#include "report_run.h"

int main(int argc, char** argv) {
  asyncps::tools::ParsedFlags<asyncps::launcher::ReportConfig> parsed = asyncps::launcher::ParseReportFlags(argc, argv);
  if (!parsed.config) return asyncps::tools::PrintFlagsExit(parsed.exit);
  return asyncps::launcher::Run(*parsed.config);
}
