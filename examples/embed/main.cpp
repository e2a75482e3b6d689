// Embedding the asyncps client in your own training loop.
//
// The "model" here is y = a x + b, fitted by local SGD on made-up data; the
// parameter server averages the work of every worker with ADAG. Run one
// asyncps-server, then any number of these with distinct worker ids:
//   asyncps-server --bind tcp://127.0.0.1:5555
//   embed_example tcp://127.0.0.1:5555 0
//
// Every call returns a Status or Result (both [[nodiscard]]): each one is
// checked, and a failure is printed with what was being done; the messages
// name the shard address and the fix. Exit status: 0 when the PS's model is
// close to a = 3, b = 1; 1 on any error or a model that is off; 2 bad usage.
// (Public headers: client/include/asyncps/client/, installed as
// <asyncps/client/...>, with the core vocabulary they include.)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <asyncps/client/client.h>
#include <asyncps/client/rule_driver.h>

namespace {

// True if `st` is OK; otherwise prints it, prefixed by `what`, and returns false.
bool Ok(const asyncps::Status& st, const char* what) {
  if (st.ok()) return true;
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SERVER_ENDPOINT WORKER_ID\n", argv[0]);
    return 2;
  }
  // 1. Describe the parameters: named float32 tensors, flattened in this order.
  asyncps::ParameterLayout layout;
  layout.Add("a", {1});
  layout.Add("b", {1});

  // 2. Connect to every shard (here: one) with the run's update rule.
  asyncps::ClientOptions options;
  options.servers = {argv[1]};
  options.worker_id = static_cast<std::uint32_t>(std::atoi(argv[2]));
  options.algorithm = asyncps::Algorithm::kAdag;
  auto client = asyncps::Client::Connect(layout, options);
  if (!Ok(client.status(), "connect")) return 1;

  // 3. Offer initial weights (the first worker's win) and start from the PS's.
  std::vector<float> w = {0.0f, 0.0f};
  // A later worker finds the PS initialised already: that is no error.
  const asyncps::Result<bool> init = client.value()->Init(w);
  if (!Ok(init.status(), "init")) return 1;
  asyncps::RuleConfig rule = asyncps::RuleConfig::Defaults(asyncps::Algorithm::kAdag);
  rule.window = 4;
  asyncps::RuleDriver driver(*client.value(), rule);
  if (!Ok(driver.Start(w), "start (pull the PS's weights)")) return 1;

  // 4. Your training loop, with the driver around each batch.
  std::mt19937 rng(options.worker_id);
  std::uniform_real_distribution<float> x_dist(-1.0f, 1.0f);
  for (int batch = 0; batch < 400; ++batch) {
    if (!Ok(driver.BeforeBatch(w), "before batch")) return 1;
    const float x = x_dist(rng), y = 3.0f * x + 1.0f;
    const float err = w[0] * x + w[1] - y;
    w[0] -= 0.1f * err * x;  // d(err^2/2)/da
    w[1] -= 0.1f * err;      // d(err^2/2)/db
    if (!Ok(driver.AfterBatch(w), "after batch (exchange with the PS)")) return 1;
  }
  if (!Ok(driver.Finish(w), "finish (last commit)")) return 1;

  std::vector<float> center(2);
  if (!Ok(client.value()->Pull(center), "pull")) return 1;
  std::printf("worker %u: %llu commits; PS holds a = %.3f, b = %.3f\n", options.worker_id,
              static_cast<unsigned long long>(driver.commits()), center[0], center[1]);
  // ADAG damps each window's work by the window; 400 batches still get close.
  if (std::abs(center[0] - 3.0f) >= 0.5f || std::abs(center[1] - 1.0f) >= 0.3f) {
    std::fprintf(stderr, "the PS's model is off: want a = 3 +- 0.5, b = 1 +- 0.3\n");
    return 1;
  }
  return 0;
}
