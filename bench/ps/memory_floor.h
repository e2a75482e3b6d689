// The memory floor of a shared-memory commit-and-pull: its four passes over the
// payload with none of the protocol, on two threads of this process, handed
// over through one atomic (futex wait/notify, the cheapest signal between two
// threads). What asyncps over shared memory can reach at best on this machine:
//   client: the commit into the request region, checked as it is copied
//           (CopyCheckingFinite, as Client::CommitAndPull does);
//   shard:  the apply into the next center, checked as it goes and writing
//           the reply region in the same pass (AddScaled), then the swap;
//   client: the reply region into the caller's weights (Decode).
// With chunk_values < floats the shard releases the reply region chunk by
// chunk and the client copies each chunk while the shard applies the next:
// the most that pipelining the reply could gain (a shard cannot do it: it
// refuses a commit whole, so it checks every chunk before releasing any).
// Same kernels as the library.
#pragma once

#include <cstddef>
#include <memory>

#include "harness.h"

namespace asyncps::bench {

// One client thread (the session's worker) and one shard thread, repeating the
// four passes over `floats` floats. chunk_values == floats: the reply in one piece.
std::unique_ptr<Session> MemoryFloor(std::size_t floats, std::size_t chunk_values);

}  // namespace asyncps::bench
