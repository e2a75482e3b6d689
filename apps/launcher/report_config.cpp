#include "report_config.h"

#include <CLI/CLI.hpp>

#include "asyncps/core/status.h"

namespace asyncps::launcher {

tools::ParsedFlags<ReportConfig> ParseReportFlags(int argc, const char* const* argv) {
  ReportConfig c;
  CLI::App app{"asyncps-report: evaluates a parameter server's weights and prints the run's report"};
  worker::AddTrainFlags(app, c.train);
  worker::AddConnectFlags(app, c.connect, /*with_servers=*/true);
  app.add_option("--worker-reports", c.reports_dir,
                 "Folder of the workers' --report-json files (every .json file in it, whatever its name)")
      ->envname("ASYNCPS_WORKER_REPORTS");
  app.add_option("--expect-workers", c.expect_workers, "Wait until this many worker reports are in the folder")
      ->envname("ASYNCPS_NUM_WORKERS")
      ->check(tools::NotNegative());
  app.add_option("--wait", c.wait_s, "How long to wait for the worker reports, in seconds")
      ->envname("ASYNCPS_REPORT_WAIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--curve-every", c.curve_every_s,
                 "While waiting for the worker reports, pull the weights every this many seconds, and report their "
                 "test accuracy against time (evaluated after the wait; start it with the workers); 0: off")
      ->check(tools::FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--report-json", c.report_json, "Also write the report as JSON here")->envname("ASYNCPS_REPORT_JSON");
  app.add_option("--save-weights", c.save_weights,
                 "Save the final weights here (.npz, or .h5 for Keras' model.load_weights)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  if (std::optional<tools::FlagsExit> exit = tools::ParseQuietly(app, argc, argv)) return *exit;

  if (Status st = c.train.Validate(); !st.ok()) return tools::Refuse("asyncps-report", st.message());
  // --summary needs no PS (Run prints it and ends).
  if (!c.train.summary && c.connect.servers.empty())
    return tools::Refuse("asyncps-report", "--servers is required (one endpoint per shard)");
  return c;
}

}  // namespace asyncps::launcher
