#include "asyncps/transport/sigbus_guard.h"

#include <csetjmp>
#include <csignal>
#include <mutex>

namespace asyncps {
namespace {

struct Guard {
  const std::byte* begin;
  const std::byte* end;
  sigjmp_buf back;
};

thread_local Guard* t_guard = nullptr;
struct sigaction g_previous {};

void OnSigbus(int, siginfo_t* info, void*) {
  Guard* g = t_guard;
  const auto* at = static_cast<const std::byte*>(info->si_addr);
  if (g != nullptr && at >= g->begin && at < g->end) siglongjmp(g->back, 1);
  // Not a guarded access: as before us. Returning re-runs the faulting
  // instruction, which then takes the previous disposition (by default, death).
  ::sigaction(SIGBUS, &g_previous, nullptr);
}

void InstallOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

bool RunGuardingSigbus(std::span<const std::byte> region, void (*fn)(void*), void* arg) {
  InstallOnce();
  Guard g{region.data(), region.data() + region.size(), {}};
  if (sigsetjmp(g.back, /*savesigs=*/1) != 0) {  // the mask (SIGBUS blocked in the handler) comes back too
    t_guard = nullptr;
    return false;
  }
  t_guard = &g;
  fn(arg);
  t_guard = nullptr;
  return true;
}

}  // namespace asyncps
