// Flags, values and paths the binaries must refuse before any work, with the
// documented exit status (2: bad flag or value; 1: a file problem or a failed
// run) and a message naming the flag and the value.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "run_binary.h"

namespace fs = std::filesystem;
using asyncps::e2e::Finished;
using asyncps::e2e::RunToEnd;

namespace {

constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

Finished Quick(std::vector<std::string> argv) { return RunToEnd(argv, std::chrono::seconds(60)); }

// A fresh folder, removed at the end of the test.
struct ScratchDir {
  explicit ScratchDir(const std::string& name)
      : path(fs::temp_directory_path() / ("asyncps-flags-" + std::to_string(getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
  fs::path path;
};

// A --data folder with Fashion-MNIST's training files and no test files.
void LinkTrainFiles(const fs::path& dir) {
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}) {
    for (const std::string ext : {".gz", ""}) {
      const fs::path src = fs::path(kData) / (name + ext);
      if (fs::exists(src)) fs::create_symlink(src, dir / (name + ext));
    }
  }
}

}  // namespace

TEST_CASE("out-of-range and malformed training values exit 2 naming the flag and the value", "[e2e][flags]") {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> expect;  // all must appear in the output
  };
  const std::vector<Case> cases = {
      {{"--batch-size", "-1"}, {"--batch-size", "-1"}},  // CLI11 had wrapped it to 2^64 - 1: bad_alloc
      {{"--batch-size", "100000000000"}, {"--batch-size", "100000000000"}},
      {{"--lr", "inf"}, {"--lr", "inf"}},
      {{"--lr", "1e30"}, {"--lr 1e+30"}},
      {{"--lr", "nan"}, {"--lr", "nan"}},
      {{"--lr", "-0.5"}, {"--lr", "-0.5"}},
      {{"--optimizer", "bogus"}, {"--optimizer", "bogus"}},
      {{"--train-limit", "-1"}, {"--train-limit", "-1"}},
      {{"--test-limit", "-3"}, {"--test-limit", "-3"}},
      {{"--seed", "-1"}, {"--seed", "-1"}},
      {{"--blas-threads", "100000"}, {"--blas-threads", "100000"}},
      {{"--blas-threads", "0"}, {"--blas-threads", "0"}},
      {{"--divisor", "nan"}, {"--divisor", "nan"}},
      {{"--eta", "inf"}, {"--eta", "inf"}},
  };
  for (const char* bin : {ASYNCPS_WORKER_BIN, ASYNCPS_LOCAL_BIN, ASYNCPS_REPORT_BIN}) {
    for (const Case& c : cases) {
      std::vector<std::string> argv{bin, "--algo", "single", "--servers", "tcp://127.0.0.1:9"};
      if (std::string(bin) == ASYNCPS_LOCAL_BIN) argv.resize(3);  // asyncps-local has no --servers
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      Finished f = Quick(argv);
      INFO(bin << " " << c.args[0] << " " << c.args[1] << "\n" << f.output);
      CHECK(f.exit == "exited with code 2");
      for (const auto& e : c.expect) CHECK_THAT(f.output, Catch::Contains(e));
    }
  }
}

TEST_CASE("launcher and worker flags out of range exit 2", "[e2e][flags]") {
  struct Case {
    std::vector<std::string> argv;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {{ASYNCPS_LOCAL_BIN, "--timeout", "-1"}, {"--timeout", "-1"}},
      {{ASYNCPS_LOCAL_BIN, "--shards", "0"}, {"--shards", "0"}},
      {{ASYNCPS_LOCAL_BIN, "--workers", "0"}, {"--workers", "0"}},
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--worker-index", "2", "--num-workers", "2"},
       {"--worker-index 2", "--num-workers 2"}},
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--num-workers", "0"}, {"--num-workers 0"}},
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--worker-index", "-1"}, {"--worker-index", "-1"}},
      {{ASYNCPS_REPORT_BIN, "--servers", "tcp://127.0.0.1:9", "--wait", "-5"}, {"--wait", "-5"}},
      {{ASYNCPS_REPORT_BIN, "--servers", "tcp://127.0.0.1:9", "--expect-workers", "-1"}, {"--expect-workers", "-1"}},
      {{ASYNCPS_LOCAL_BIN, "--workers", "3", "--straggler", "3:2"}, {"--straggler 3:2", "below --workers 3"}},
      {{ASYNCPS_LOCAL_BIN, "--straggler", "0:0.5"}, {"--straggler 0:0.5"}},
      {{ASYNCPS_LOCAL_BIN, "--straggler", "0:nan"}, {"--straggler 0:nan"}},
      {{ASYNCPS_LOCAL_BIN, "--straggler", "x:2"}, {"--straggler x:2"}},
      {{ASYNCPS_LOCAL_BIN, "--max-staleness", "-1"}, {"--max-staleness", "-1"}},
      {{ASYNCPS_LOCAL_BIN, "--shared-memory", "yes"}, {"--shared-memory", "yes"}},
      {{ASYNCPS_LOCAL_BIN, "--curve-every", "-2"}, {"--curve-every", "-2"}},
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--slowdown", "0.5"}, {"--slowdown", "0.5"}},
  };
  for (const Case& c : cases) {
    Finished f = Quick(c.argv);
    INFO(c.argv[0] << " " << c.argv[1] << "\n" << f.output);
    CHECK(f.exit == "exited with code 2");
    for (const auto& e : c.expect) CHECK_THAT(f.output, Catch::Contains(e));
  }
}

TEST_CASE("a batch larger than the partition is capped at the partition, and the log says so", "[e2e][flags]") {
  Finished f =
      Quick({ASYNCPS_WORKER_BIN, "--algo", "single", "--batch-size", "5000", "--train-limit", "64", "--epochs", "1"});
  INFO(f.output);
  CHECK(f.exit == "exited with code 0");
  CHECK_THAT(f.output, Catch::Contains("--batch-size 5000 is larger than this worker's 64 training rows: using 64"));
  CHECK_THAT(f.output, Catch::Contains("batch 1/1"));
}

TEST_CASE("bad input and output paths fail before any training starts", "[e2e][flags]") {
  ScratchDir scratch("paths");
  const std::string missing_dir = (scratch.path / "no-such-folder" / "out").string();
  struct Case {
    std::vector<std::string> argv;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases;
  for (const char* flag : {"--save-weights", "--report-json"}) {
    cases.push_back({{ASYNCPS_LOCAL_BIN, "--algo", "single", "--workers", "1", flag, missing_dir},
                     {flag, missing_dir, "does not exist"}});
    cases.push_back({{ASYNCPS_WORKER_BIN, "--algo", "single", flag, missing_dir}, {flag, missing_dir}});
    // asyncps-report would first wait up to --wait for the workers' reports.
    cases.push_back({{ASYNCPS_REPORT_BIN, "--servers", "tcp://127.0.0.1:9", "--expect-workers", "1", "--wait", "100",
                      flag, missing_dir},
                     {flag, missing_dir}});
  }
  cases.push_back({{ASYNCPS_LOCAL_BIN, "--algo", "single", "--save-weights", scratch.path.string()},
                   {"--save-weights", "is a folder"}});
  // Training files only: the test split is missing.
  const fs::path train_only = scratch.path / "train-only";
  fs::create_directories(train_only);
  LinkTrainFiles(train_only);
  cases.push_back({{ASYNCPS_LOCAL_BIN, "--algo", "single", "--workers", "1", "--data", train_only.string()},
                   {train_only.string(), "t10k-images-idx3-ubyte"}});
  cases.push_back({{ASYNCPS_REPORT_BIN, "--servers", "tcp://127.0.0.1:9", "--expect-workers", "1", "--wait", "100",
                    "--data", train_only.string()},
                   {"t10k-images-idx3-ubyte"}});
  // A truncated test images file: found only by reading it, which must happen before training.
  const fs::path truncated = scratch.path / "truncated";
  fs::create_directories(truncated);
  LinkTrainFiles(truncated);
  fs::copy_file(fs::path(kData) / "t10k-labels-idx1-ubyte.gz", truncated / "t10k-labels-idx1-ubyte.gz");
  { std::ofstream(truncated / "t10k-images-idx3-ubyte") << std::string("\0\0\x08\x03\0\0", 6); }
  cases.push_back({{ASYNCPS_LOCAL_BIN, "--algo", "single", "--workers", "1", "--data", truncated.string()},
                   {(truncated / "t10k-images-idx3-ubyte").string(), "truncated"}});
  for (const Case& c : cases) {
    const auto start = std::chrono::steady_clock::now();
    Finished f = Quick(c.argv);
    INFO(c.argv[0] << "\n" << f.output);
    CHECK(f.exit == "exited with code 1");
    for (const auto& e : c.expect) CHECK_THAT(f.output, Catch::Contains(e));
    CHECK_THAT(f.output, !Catch::Contains("epoch"));  // nothing trained
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
  }
}

TEST_CASE("a run whose loss becomes NaN fails with exit 1, and the work folder is removed", "[e2e][flags]") {
  ScratchDir tmp("tmpdir");
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  setenv("TMPDIR", tmp.path.c_str(), 1);
  // Pixels of up to 2.55e39 overflow float in the first convolution: inf - inf = NaN.
  Finished f = RunToEnd({ASYNCPS_LOCAL_BIN, "--algo", "single", "--workers", "1", "--divisor", "1e-37", "--train-limit",
                         "512", "--test-limit", "100", "--epochs", "1", "--save-weights", ""},
                        std::chrono::seconds(120));
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(tmp.path))
    left += e.path().filename().string().rfind("asyncps-local-", 0) == 0;
  if (old)
    setenv("TMPDIR", saved.c_str(), 1);
  else
    unsetenv("TMPDIR");
  INFO(f.output);
  CHECK(f.exit == "exited with code 1");
  CHECK_THAT(f.output, Catch::Contains("training diverged") && Catch::Contains("--lr"));
  CHECK(left == 0);  // the work folder was leaked on every failure before
}
