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

// Every refused value is checked in-process against each binary's flag parser
// (tests/apps); here, once per binary and kind of refusal, what main makes of
// it: the exit status and the message on the way out.
TEST_CASE("each binary exits 2 on a refused flag or value, naming it, and 0 on --help", "[e2e][flags]") {
  struct Case {
    std::vector<std::string> argv;
    std::string exit;
    std::vector<std::string> expect;  // all must appear in the output
  };
  const std::vector<Case> cases = {
      // Refused by CLI11 (a validator), by the binary's own checks, and --help.
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--batch-size", "-1"}, "exited with code 2", {"--batch-size", "-1"}},
      {{ASYNCPS_WORKER_BIN, "--algo", "single", "--worker-index", "2", "--num-workers", "2"},
       "exited with code 2",
       {"asyncps-worker: --worker-index 2", "--num-workers 2"}},
      {{ASYNCPS_WORKER_BIN, "--help"}, "exited with code 0", {"Usage:", "--worker-index"}},
      {{ASYNCPS_LOCAL_BIN, "--algo", "single", "--lr", "nan"}, "exited with code 2", {"--lr", "nan"}},
      {{ASYNCPS_LOCAL_BIN, "--workers", "3", "--straggler", "3:2"},
       "exited with code 2",
       {"asyncps-local: --straggler 3:2", "below --workers 3"}},
      {{ASYNCPS_LOCAL_BIN, "--help"}, "exited with code 0", {"Usage:", "--straggler"}},
      {{ASYNCPS_REPORT_BIN, "--servers", "tcp://127.0.0.1:9", "--wait", "-5"}, "exited with code 2", {"--wait", "-5"}},
      {{ASYNCPS_REPORT_BIN, "--algo", "single"},
       "exited with code 2",
       {"asyncps-report: --servers is required (one endpoint per shard)"}},
      {{ASYNCPS_REPORT_BIN, "--help"}, "exited with code 0", {"Usage:", "--expect-workers"}},
  };
  for (const Case& c : cases) {
    Finished f = Quick(c.argv);
    INFO(c.argv[0] << " " << c.argv[1] << "\n" << f.output);
    CHECK(f.exit == c.exit);
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
