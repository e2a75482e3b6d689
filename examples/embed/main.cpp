// Embedding the asyncps client in your own training loop.
//
// The "model" here is y = a x + b, fitted by local SGD on made-up data; the
// parameter server averages the work of every worker with ADAG. Run one
// asyncps-server, then any number of these with distinct worker ids:
//   asyncps-server --bind tcp://127.0.0.1:5555
//   embed_example tcp://127.0.0.1:5555 0
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <asyncps/client.h>
#include <asyncps/rule_driver.h>

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
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    return 1;
  }

  // 3. Offer initial weights (the first worker's win) and start from the PS's.
  std::vector<float> w = {0.0f, 0.0f};
  asyncps::Status init = client.value()->Init(w);
  if (!init.ok() && init.code() != asyncps::Status::Code::kAlreadyInitialised) {
    std::fprintf(stderr, "init: %s\n", init.ToString().c_str());
    return 1;
  }
  asyncps::RuleConfig rule = asyncps::RuleConfig::Defaults(asyncps::Algorithm::kAdag);
  rule.window = 4;
  asyncps::RuleDriver driver(*client.value(), rule);
  if (!driver.Start(w).ok()) return 1;

  // 4. Your training loop, with the driver around each batch.
  std::mt19937 rng(options.worker_id);
  std::uniform_real_distribution<float> x_dist(-1.0f, 1.0f);
  for (int batch = 0; batch < 400; ++batch) {
    if (!driver.BeforeBatch(w).ok()) return 1;
    const float x = x_dist(rng), y = 3.0f * x + 1.0f;
    const float err = w[0] * x + w[1] - y;
    w[0] -= 0.1f * err * x;  // d(err^2/2)/da
    w[1] -= 0.1f * err;      // d(err^2/2)/db
    if (asyncps::Status st = driver.AfterBatch(w); !st.ok()) {
      std::fprintf(stderr, "exchange: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  if (!driver.Finish(w).ok()) return 1;

  std::vector<float> center(2);
  if (!client.value()->Pull(center).ok()) return 1;
  std::printf("worker %u: %llu commits; PS holds a = %.3f, b = %.3f\n", options.worker_id,
              static_cast<unsigned long long>(driver.commits()), center[0], center[1]);
  // ADAG damps each window's work by the window; 400 batches still get close.
  return (std::abs(center[0] - 3.0f) < 0.5f && std::abs(center[1] - 1.0f) < 0.3f) ? 0 : 1;
}
