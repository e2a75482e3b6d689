// RunInChild: runs a function in a forked child process and returns the bytes
// it produced, so that a library that is not safe on hostile input (Debian's
// libhdf5 1.10 crashes, loops and allocates what a crafted file claims) can
// only take the child down. The parent gets a Status instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "asyncps/core/status.h"

namespace asyncps::models {

struct ChildLimits {
  std::chrono::milliseconds time{60'000};  // wall clock, from fork to the child's exit
  std::size_t memory_bytes = 0;            // address space the child may add; 0: no limit
  std::size_t output_bytes = 0;            // the most bytes the child may return
};

// Forks; the child runs `work` and sends its Result back through a pipe, then
// _exits (no atexit handlers, no destructors of the parent's objects). The
// parent waits at most limits.time, then kills the child.
// Returns the child's bytes, or its error Status as it was, or, when the child
// crashed, ran out of time or memory or returned more than output_bytes, an
// InvalidArgument that starts with `what` (the work, as the subject of a
// sentence: "m.h5: libhdf5").
// The child's bytes are untrusted: the caller decodes them with the same
// checks as any input.
// REQUIRES: `work` calls nothing that needs another thread of this process
// (after fork only the calling thread exists in the child), and no OpenMP.
// Thread safety: safe to call from several threads at once.
Result<std::string> RunInChild(const std::function<Result<std::string>()>& work, const ChildLimits& limits,
                               const std::string& what);

}  // namespace asyncps::models
