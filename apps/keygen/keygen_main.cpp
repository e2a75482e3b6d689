// asyncps-keygen: writes a CURVE key pair for asyncps' security.
//
//   asyncps-keygen NAME      writes NAME.key (secret, mode 0600) and NAME.pub,
//                            and prints the public key
//
// Servers take their NAME.key with --curve-secret-key-file and the clients'
// .pub lines in their --curve-allow file; clients take their own NAME.key and
// the server's NAME.pub. Existing files are never overwritten (--force does).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_parse.h"

#include "asyncps/transport/curve.h"

namespace {

// Creates `path` with `mode` from the start (no window where the secret is
// readable by others) and writes `text`. Fails if it exists, unless `force`.
bool WriteNew(const std::string& path, const std::string& text, mode_t mode, bool force) {
  if (force) ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    std::fprintf(stderr, "asyncps-keygen: cannot create %s: %s%s\n", path.c_str(), std::strerror(errno),
                 errno == EEXIST ? " (use --force to replace it)" : "");
    return false;
  }
  bool ok = ::fchmod(fd, mode) == 0;  // the umask may have narrowed it; never widened
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) std::fprintf(stderr, "asyncps-keygen: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asyncps-keygen: writes a CURVE key pair (Z85) for asyncps' encrypted, authenticated connections"};
  std::string name;
  bool force = false;
  app.add_option("name", name, "Writes NAME.key (secret key, mode 0600) and NAME.pub (public key)")->required();
  app.add_flag("--force", force, "Replace existing NAME.key and NAME.pub");
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;

  asyncps::Result<asyncps::CurveKeyPair> keys = asyncps::GenerateCurveKeyPair();
  if (!keys.ok()) {
    std::fprintf(stderr, "asyncps-keygen: %s\n", keys.status().ToString().c_str());
    return 1;
  }
  const std::string secret_text =
      "# asyncps CURVE secret key (Z85). Keep it private: --curve-secret-key-file on "
      "a server, the worker's client key otherwise.\n" +
      keys.value().secret_key + "\n";
  const std::string public_text =
      "# asyncps CURVE public key (Z85): give it to the other side (a server's to its "
      "clients, a client's to the servers' --curve-allow file).\n" +
      keys.value().public_key + "\n";
  if (!WriteNew(name + ".key", secret_text, 0600, force) || !WriteNew(name + ".pub", public_text, 0644, force))
    return 1;
  std::printf("%s\n", keys.value().public_key.c_str());
  return 0;
}
