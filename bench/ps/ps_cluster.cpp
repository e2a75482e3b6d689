#include "ps_cluster.h"

#include <stdexcept>

#include "asyncps/client/client.h"

namespace asyncps::bench {
namespace {

std::unique_ptr<Client> ConnectOrThrow(const ParameterLayout& layout, ClientOptions options) {
  Result<std::unique_ptr<Client>> client = Client::Connect(layout, std::move(options));
  if (!client.ok()) throw std::runtime_error("asyncps connect: " + client.status().message());
  return std::move(client).value();
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) throw std::runtime_error(std::string("asyncps ") + what + ": " + st.message());
}

// One worker: its client and its buffers (a commit payload and pulled weights).
struct Worker {
  std::unique_ptr<Client> client;
  std::vector<float> payload, weights;
};

}  // namespace

const char* PsOpName(PsOp op) {
  switch (op) {
    case PsOp::kCommit:
      return "commit";
    case PsOp::kPull:
      return "pull";
    case PsOp::kCommitAndPull:
      return "commit-and-pull";
    case PsOp::kCommitAndPullBf16:
      return "commit-and-pull-bf16";
    case PsOp::kCommitAndPullTopK:
      return "commit-and-pull-top1%";
    case PsOp::kCommitAndPullShm:
      return "commit-and-pull-shm";
  }
  return "?";
}

bool IsCompressed(PsOp op) { return op == PsOp::kCommitAndPullBf16 || op == PsOp::kCommitAndPullTopK; }

PsCluster::PsCluster(std::size_t floats, std::uint32_t shards) {
  layout_.Add("params", {floats});
  for (std::uint32_t i = 0; i < shards; ++i) {
    ps::ShardServerOptions o;
    o.shard.shard_index = i;
    o.shard.num_shards = shards;
    o.shard.shared_memory = true;  // for the shm clients; the others send frames
    servers_.push_back(std::make_unique<ps::ShardServer>(context_, "tcp://127.0.0.1:*", o));
    endpoints_.push_back(servers_.back()->endpoint());
  }
  for (auto& s : servers_) threads_.emplace_back([this, server = s.get()] { server->Serve(stop_); });
  Init();
}

PsCluster::PsCluster(std::size_t floats, std::vector<std::string> endpoints) : endpoints_(std::move(endpoints)) {
  layout_.Add("params", {floats});
  Init();
}

void PsCluster::Init() {
  const std::vector<float> initial(layout_.total_size(), 0.0f);
  Check(ConnectOrThrow(layout_, Options())->Init(initial).status(), "init");
}

PsCluster::~PsCluster() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

ClientOptions PsCluster::Options(PsOp op) {
  ClientOptions o;
  o.servers = endpoints_;
  o.worker_id = next_worker_id_++;
  if (IsCompressed(op)) {
    o.compression.pull = Encoding::kBfloat16;
    o.compression.commit = Encoding::kBfloat16;
    if (op == PsOp::kCommitAndPullTopK) o.compression.commit_top_k = 0.01;
  }
  o.shared_memory = op == PsOp::kCommitAndPullShm;
  o.reply_chunk_bytes = reply_chunk_bytes_;
  return o;
}

std::unique_ptr<Session> PsCluster::Clients(PsOp op, int workers, std::shared_ptr<void> keep_alive) {
  std::vector<ClientOptions> options;
  for (int w = 0; w < workers; ++w) options.push_back(Options(op));
  const std::size_t n = layout_.total_size();
  return std::make_unique<Session>(
      workers,
      [this, op, options, n](int w) -> Op {
        auto k = std::make_shared<Worker>(
            Worker{ConnectOrThrow(layout_, options[w]), std::vector<float>(n), std::vector<float>(n)});
        if (options[w].shared_memory && k->client->shared_memory_shards() != k->client->num_shards())
          throw std::runtime_error("shared memory refused: " + k->client->shared_memory_refusal(0));
        // Small deltas of varied magnitude and sign, as training makes (top-k selects among them).
        for (std::size_t i = 0; i < n; ++i)
          k->payload[i] = 1e-6f * (static_cast<float>((i * 2654435761u) % 2001) - 1000.0f) / 1000.0f;
        switch (op) {
          case PsOp::kCommit:
            return [k] { Check(k->client->Commit(k->payload), "commit"); };
          case PsOp::kPull:
            return [k] { Check(k->client->Pull(k->weights), "pull"); };
          case PsOp::kCommitAndPull:
          case PsOp::kCommitAndPullBf16:
          case PsOp::kCommitAndPullTopK:
          case PsOp::kCommitAndPullShm:
            return [k] { Check(k->client->CommitAndPull(k->payload, k->weights), "commit-and-pull"); };
        }
        throw std::logic_error("unknown op");
      },
      std::move(keep_alive));
}

}  // namespace asyncps::bench
