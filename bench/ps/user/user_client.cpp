// A user's program, and nothing else: one asyncps Client linking the
// installed package, Init, then CommitAndPull of FLOATS floats in a loop
// against one asyncps-server shard. Usage:
//   user_client ENDPOINT FLOATS f32|bf16 SECONDS [WARMUP [REPLY_CHUNK_BYTES]]
// (REPLY_CHUNK_BYTES: ClientOptions::reply_chunk_bytes; default the library's.)
// Prints timing.h's line; exit 1 on any error (printed), 2 on bad usage.
#include <cstdio>
#include <string>
#include <vector>

#include <asyncps/client/client.h>

#include "timing.h"

int main(int argc, char** argv) {
  using asyncps::bench::NumberArg;
  if (argc < 5 || argc > 7) {
    std::fprintf(stderr, "usage: %s ENDPOINT FLOATS f32|bf16 SECONDS [WARMUP [REPLY_CHUNK_BYTES]]\n", argv[0]);
    return 2;
  }
  const auto floats = static_cast<std::size_t>(NumberArg(argv[2], "FLOATS"));
  const std::string encoding = argv[3];
  if (encoding != "f32" && encoding != "bf16") {
    std::fprintf(stderr, "the encoding must be f32 or bf16, got '%s'\n", argv[3]);
    return 2;
  }
  const double seconds = NumberArg(argv[4], "SECONDS");
  const int warmup = argc > 5 ? static_cast<int>(NumberArg(argv[5], "WARMUP")) : 20;

  asyncps::ParameterLayout layout;
  layout.Add("w", {floats});
  asyncps::ClientOptions options;
  options.servers = {argv[1]};
  if (argc > 6) options.reply_chunk_bytes = static_cast<std::uint64_t>(NumberArg(argv[6], "REPLY_CHUNK_BYTES", -1));
  if (encoding == "bf16") {
    options.compression.commit = asyncps::Encoding::kBfloat16;
    options.compression.pull = asyncps::Encoding::kBfloat16;
  }
  auto client = asyncps::Client::Connect(layout, options);
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    return 1;
  }
  std::vector<float> weights(floats, 0.5f), commit(floats, 1e-6f);
  if (auto init = client.value()->Init(weights); !init.ok()) {
    std::fprintf(stderr, "init: %s\n", init.status().ToString().c_str());
    return 1;
  }
  const int status = asyncps::bench::TimeRoundTrips(warmup, seconds, [&] {
    const asyncps::Status st = client.value()->CommitAndPull(commit, weights);
    if (!st.ok()) std::fprintf(stderr, "commit-and-pull: %s\n", st.ToString().c_str());
    return st.ok();
  });
  // The next run may take this worker id at once.
  if (const asyncps::Status st = client.value()->Leave(); !st.ok()) {
    std::fprintf(stderr, "leave: %s\n", st.ToString().c_str());
    return 1;
  }
  return status;
}
