// Touching memory another process may take away: a mapping of a file that its
// owner can shrink (a shared-memory segment), or whose pages tmpfs cannot back
// (a sparse segment on a full /dev/shm), faults with SIGBUS, which would kill
// the whole process. GuardSigbus runs an access so that such a fault abandons
// that access and is reported, instead.
//
// How: a SIGBUS handler (installed once, process-wide) that, when the faulting
// address lies in the region the current thread guards, jumps back out of the
// access (siglongjmp); any other SIGBUS goes to the previous disposition.
//
// REQUIRES: the access holds no object with a non-trivial destructor while it
// touches the region (it may be left midway, without unwinding); guards do not
// nest within one thread. Thread-safe: each thread guards its own region.
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

namespace asyncps {

// Runs fn(arg); true if it ran to the end, false if it took SIGBUS inside
// `region` (and was abandoned there).
bool RunGuardingSigbus(std::span<const std::byte> region, void (*fn)(void*), void* arg);

// The same for any callable: GuardSigbus(segment.mapping(), [&] { ... }).
template <typename F>
bool GuardSigbus(std::span<const std::byte> region, F&& f) {
  using Fn = std::remove_reference_t<F>;
  return RunGuardingSigbus(
      region, [](void* p) { (*static_cast<Fn*>(p))(); }, const_cast<std::remove_const_t<Fn>*>(&f));
}

}  // namespace asyncps
