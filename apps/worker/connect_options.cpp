#include "connect_options.h"

#include <iomanip>
#include <sstream>

#include <CLI/CLI.hpp>

#include "asyncps/transport/curve.h"

namespace asyncps::worker {
namespace {
std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}
}  // namespace

Result<Compression> CompressionOptions::ToCompression() const {
  Result<Encoding> pull = ParseEncoding(pull_encoding);
  if (!pull.ok()) return Status::InvalidArgument("--pull-encoding: " + pull.status().message());
  Result<Encoding> commit = ParseEncoding(commit_encoding);
  if (!commit.ok()) return Status::InvalidArgument("--commit-encoding: " + commit.status().message());
  Compression c{pull.value(), commit.value(), commit_top_k, error_feedback};
  if (Status st = c.Validate(); !st.ok()) return Status::InvalidArgument("--commit-top-k: " + st.message());
  return c;
}

std::vector<std::string> CompressionOptions::ToArgs() const {
  std::ostringstream k;
  k << std::setprecision(17) << commit_top_k;
  std::vector<std::string> args{"--pull-encoding", pull_encoding,    "--commit-encoding",
                                commit_encoding,   "--commit-top-k", k.str()};
  if (!error_feedback) args.push_back("--no-error-feedback");
  return args;
}

std::string CompressionOptions::Describe() const {
  if (pull_encoding == "f32" && commit_encoding == "f32" && commit_top_k == 0) return "f32";
  std::ostringstream out;
  out << "pull " << pull_encoding << ", commit " << commit_encoding;
  if (commit_top_k > 0) out << " top-" << commit_top_k * 100 << "%";
  if (!error_feedback) out << " without error feedback";
  return out.str();
}

void AddCompressionFlags(CLI::App& app, CompressionOptions& o) {
  const auto encodings = CLI::IsMember({"f32", "bf16"});
  app.add_option("--pull-encoding", o.pull_encoding,
                 "How pulled weights travel: f32 (exact) or bf16 (half the bytes, 8 significant bits)")
      ->envname("ASYNCPS_PULL_ENCODING")
      ->check(encodings)
      ->capture_default_str();
  app.add_option("--commit-encoding", o.commit_encoding,
                 "How commit values travel: f32 or bf16 (the rounding is kept and sent later: error feedback)")
      ->envname("ASYNCPS_COMMIT_ENCODING")
      ->check(encodings)
      ->capture_default_str();
  app.add_option("--commit-top-k", o.commit_top_k,
                 "Send only this fraction of each shard's commit entries, the largest in magnitude, with their "
                 "positions (0: every entry); the rest waits for later commits")
      ->envname("ASYNCPS_COMMIT_TOP_K")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  app.add_flag("--no-error-feedback{false}", o.error_feedback,
               "Drop what lossy commits leave out instead of sending it later (for comparison only)");
}

Result<ClientOptions> ConnectOptions::ToClientOptions(std::uint32_t worker_id, Algorithm algorithm) const {
  ClientOptions co;
  co.servers = servers;
  co.worker_id = worker_id;
  co.algorithm = algorithm;
  co.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  co.retry_deadline = Ms(retry_deadline_s);
  co.connect_deadline = Ms(connect_deadline_s);
  Result<std::string> server_key =
      CurveKeyFromFileOrEnv(curve_server_key_file, "ASYNCPS_CURVE_SERVER_KEY", CurveKeyKind::kPublic);
  if (!server_key.ok()) return server_key.status();
  Result<std::string> secret_key =
      CurveKeyFromFileOrEnv(curve_secret_key_file, "ASYNCPS_CLIENT_CURVE_SECRET_KEY", CurveKeyKind::kSecret);
  if (!secret_key.ok()) return secret_key.status();
  if (server_key.value().empty() != secret_key.value().empty()) {
    return Status::InvalidArgument(
        "CURVE needs both the server's public key (--curve-server-key-file) and this client's secret key "
        "(--curve-secret-key-file), or neither");
  }
  co.curve_server_key = server_key.value();
  co.curve_secret_key = secret_key.value();
  Result<Compression> c = compression.ToCompression();
  if (!c.ok()) return c.status();
  co.compression = c.value();
  co.shared_memory = shared_memory;
  return co;
}

std::vector<std::string> ConnectOptions::ToArgs() const {
  std::vector<std::string> args{"--request-timeout-ms", std::to_string(request_timeout_ms),
                                "--retry-deadline",     std::to_string(retry_deadline_s),
                                "--connect-deadline",   std::to_string(connect_deadline_s)};
  if (!curve_server_key_file.empty()) args.insert(args.end(), {"--curve-server-key-file", curve_server_key_file});
  if (!curve_secret_key_file.empty()) args.insert(args.end(), {"--curve-secret-key-file", curve_secret_key_file});
  for (auto& a : compression.ToArgs()) args.push_back(a);
  if (shared_memory) args.emplace_back("--shared-memory");
  return args;
}

void AddConnectFlags(CLI::App& app, ConnectOptions& o, bool with_servers) {
  if (with_servers) {
    app.add_option("--servers", o.servers, "Shard endpoints in shard order, comma-separated")
        ->envname("ASYNCPS_SERVERS")
        ->delimiter(',');
  }
  app.add_option("--request-timeout-ms", o.request_timeout_ms, "How long one attempt of a PS request may take")
      ->envname("ASYNCPS_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--retry-deadline", o.retry_deadline_s,
                 "Seconds to keep retrying a PS request (with back-off) before failing: rides out a shard restart")
      ->envname("ASYNCPS_RETRY_DEADLINE")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  app.add_option("--connect-deadline", o.connect_deadline_s, "Seconds to wait for every shard at start")
      ->envname("ASYNCPS_CONNECT_DEADLINE")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  app.add_option("--curve-server-key-file", o.curve_server_key_file,
                 "The shards' CURVE public key (else $ASYNCPS_CURVE_SERVER_KEY; unset: no encryption)")
      ->envname("ASYNCPS_CURVE_SERVER_KEY_FILE");
  app.add_option(
         "--curve-secret-key-file", o.curve_secret_key_file,
         "This client's CURVE secret key (else $ASYNCPS_CLIENT_CURVE_SECRET_KEY); its public key must be on the "
         "shards' allow-list")
      ->envname("ASYNCPS_CLIENT_CURVE_SECRET_KEY_FILE");
  app.add_flag("--shared-memory", o.shared_memory,
               "Send payloads and take pulled weights through shared memory with shards on this host that allow it "
               "(asyncps-server --shared-memory); other shards get them over the socket")
      ->envname("ASYNCPS_SHARED_MEMORY");
  AddCompressionFlags(app, o.compression);
}

}  // namespace asyncps::worker
