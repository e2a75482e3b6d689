// asyncps-reshard: changes a run's shard count between a stop and a restart.
//
//   asyncps-reshard --from DIR --to NEWDIR --shards M
//
// reads the N checkpoints a cleanly stopped run left in DIR (asyncps-server
// --checkpoint-dir; SIGTERM checkpoints every shard on the way out), and writes
// M checkpoints holding the same model, bit for bit, into NEWDIR; servers
// started with M shards and --checkpoint-dir NEWDIR continue the run, and the
// workers, given the M endpoints, split the model the new way at their Hello.
// Exit status: 0 done, 1 refused or failed (the message says why; nothing is
// written), 2 bad flags.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "asyncps/server/reshard.h"
#include "cli_parse.h"

int main(int argc, char** argv) {
  CLI::App app{"asyncps-reshard: rewrites a stopped run's N shard checkpoints for M shards (the same model)"};
  std::string from, to;
  std::uint32_t shards = 0;
  app.add_option("--from", from, "The run's --checkpoint-dir: its shard-<i>-of-<n>.ckpt files")->required();
  app.add_option("--to", to, "Where the new checkpoints go (created if missing; must hold none)")->required();
  app.add_option("--shards", shards, "The new shard count")
      ->required()
      ->check(asyncps::tools::NotNegative())
      ->check(CLI::Range(1u, asyncps::ps::kMaxReshardShards));
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;

  asyncps::Result<asyncps::ps::ReshardSummary> done = asyncps::ps::ReshardDir(from, to, shards);
  if (!done.ok()) {
    std::fprintf(stderr, "asyncps-reshard: %s\n", done.status().message().c_str());
    return 1;
  }
  const asyncps::ps::ReshardSummary& s = done.value();
  std::printf("asyncps-reshard: %u shards -> %u: %zu parameters at %llu updates\n", s.from_shards, s.to_shards,
              s.parameters, static_cast<unsigned long long>(s.updates));
  for (const std::string& file : s.written) std::printf("  %s\n", file.c_str());
  std::printf("start %u shards with --checkpoint-dir %s\n", s.to_shards, to.c_str());
  return 0;
}
