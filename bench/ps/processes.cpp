#include "processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <httplib.h>
#include <zmq.hpp>

#include "raw_zmq.h"
#include "report.h"

namespace asyncps::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The first line of a ready file: the (first) endpoint.
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// What a session against a server process keeps alive until its workers stop
// (members die in reverse order: the scraper, the clients' cluster, the server).
struct Remote {
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<PsCluster> cluster;
  std::unique_ptr<Scraper> scraper;
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log) : log_(log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fd);
  if (pid_ < 0) throw std::runtime_error("cannot fork for " + argv[0]);
}

ChildProcess::~ChildProcess() {
  kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string ChildProcess::WaitForFile(const std::string& path) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (const std::string text = ReadFile(path); !text.empty()) return text;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_)
      throw std::runtime_error("server process exited (status " + std::to_string(status) + "): " + ReadFile(log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("server process wrote no " + path + " in 30 s: " + ReadFile(log_));
}

Scraper::Scraper(const std::string& url, std::chrono::milliseconds period) {
  const std::size_t path_at = url.find('/', url.find("//") + 2);
  const std::string host = url.substr(0, path_at), path = url.substr(path_at);
  thread_ = std::thread([this, host, path, period] {
    httplib::Client http(host);
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      if (auto res = http.Get(path); res && res->status == 200) ++scrapes_;
      next += period;
      std::this_thread::sleep_until(next);
    }
  });
}

Scraper::~Scraper() {
  stop_ = true;
  thread_.join();
}

std::unique_ptr<Session> ProcessRawReqRep(const ProcessPeers& peers, std::size_t floats) {
  const std::string ready = peers.work_dir + "/raw-rep.ready";
  unlink(ready.c_str());
  auto server = std::make_shared<ChildProcess>(
      std::vector<std::string>{peers.self_exe, "--serve-raw-rep", std::to_string(floats), "--ready-file", ready},
      peers.work_dir + "/raw-rep.log");
  const std::string endpoint = FirstLine(server->WaitForFile(ready));
  return std::make_unique<Session>(
      1, [endpoint, floats](int) { return RawReqRepClient(endpoint, floats); }, server);
}

std::unique_ptr<Session> ProcessAsyncps(const ProcessPeers& peers, std::size_t floats, PsOp op,
                                        ProcessVariant variant) {
  const std::string name = std::string("asyncps-server-") + PsOpName(op) + (variant.metrics ? "-metrics" : "") +
                           (variant.chunked ? "-chunked" : "");
  const std::string ready = peers.work_dir + "/" + name + ".ready", log = peers.work_dir + "/" + name + ".log";
  unlink(ready.c_str());
  unlink(log.c_str());
  std::vector<std::string> argv{peers.server_bin, "--bind", "tcp://127.0.0.1:*", "--ready-file", ready};
  if (variant.metrics) argv.insert(argv.end(), {"--metrics-bind", "127.0.0.1:0"});
  if (op == PsOp::kCommitAndPullShm) argv.push_back("--shared-memory");
  auto remote = std::make_shared<Remote>();
  remote->server = std::make_unique<ChildProcess>(argv, log);
  const std::string endpoint = FirstLine(remote->server->WaitForFile(ready));
  remote->cluster = std::make_unique<PsCluster>(floats, std::vector<std::string>{endpoint});
  if (variant.chunked) remote->cluster->set_reply_chunk_bytes(kChunkBytes);
  if (variant.metrics) {
    // The server logs "metrics on http://HOST:PORT/metrics" before it writes its ready file.
    std::smatch m;
    const std::string text = ReadFile(log);
    if (!std::regex_search(text, m, std::regex("metrics on (http://[^ \n]+/metrics)")))
      throw std::runtime_error("no metrics URL in " + log + ": " + text);
    remote->scraper = std::make_unique<Scraper>(m[1].str(), std::chrono::milliseconds(100));
  }
  return remote->cluster->Clients(op, 1, remote);
}

int ServeRawReqRepProcess(std::size_t floats, const std::string& ready_file) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  zmq::context_t context{1};
  zmq::socket_t socket(context, zmq::socket_type::rep);
  ConfigureServerSocket(socket);
  socket.bind("tcp://127.0.0.1:*");
  const std::string tmp = ready_file + ".tmp";
  std::ofstream(tmp) << socket.get(zmq::sockopt::last_endpoint) << "\n";
  if (rename(tmp.c_str(), ready_file.c_str()) != 0) return 1;
  ServeReqRep(socket, floats, g_stop);
  return 0;
}

}  // namespace asyncps::bench
