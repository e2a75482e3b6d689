// CommitFramer: a request's payload frame for each shard, as it will travel.
//
// A commit is split by the shards' ranges and each slice checked for NaN/Inf
// in the pass that prepares it: a dense float32 slice bound for a shard with a
// shared-memory segment is copied (or, for CommitDeltaAndPull, computed)
// straight into the segment's request region; other dense slices are sent from
// the caller's memory (zero-copy); lossy commits (ClientOptions::compression)
// are encoded by one CommitEncoder per shard, with error feedback. A payload
// with a NaN or Inf is refused before any shard sees it.
//
// Thread-safety: one commit at a time (as Client).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/compression.h"
#include "asyncps/core/layout.h"
#include "asyncps/core/status.h"
#include "commit_encoder.h"
#include "round_trip.h"

namespace asyncps::internal {

// A request's payload frame for one shard, as it will travel.
struct OutFrame {
  std::span<const std::byte> bytes;  // must stay unchanged until the round trip ends
  std::size_t count = 0;             // values (Request.payload_floats)
  Encoding encoding = Encoding::kFloat32;
  bool sparse = false;
  std::string staged_in;  // the shared-memory segment the bytes were copied into already (round_trip.h)
};

// OK when n == layout_size, else kInvalidArgument saying `what` has n floats.
Status CheckFloatCount(std::size_t n, std::size_t layout_size, const char* what);

class CommitFramer {
 public:
  // ranges: the shards' slices of a layout of total_size floats.
  // REQUIRES: compression.Validate().ok().
  CommitFramer(std::vector<ShardRange> ranges, std::size_t total_size, const Compression& compression);

  // Shard s's float32 slice of `values`, sent as it is (zero-copy): the frames
  // point into `values`. REQUIRES: values.size() == total_size.
  std::vector<OutFrame> Dense(std::span<const float> values) const;

  // `payload`'s frames, after checking its size and that it is finite
  // (kInvalidArgument naming the first bad element; nothing is sent then).
  // Dense float32 slices go into `transport`'s segments where a shard has one
  // that fits; lossy ones are encoded (their residuals move on only when every
  // slice was finite). The frames point into `payload`, the segments or this
  // framer's encoders: valid until the next call.
  Status Commit(std::span<const float> payload, Transport& transport, std::vector<OutFrame>* frames);

  // The frames of the commit (w - w0) / divisor, checked as Commit's: dense
  // float32 slices are computed straight into a shard's segment where it has
  // one, else into this framer's scratch (sent from there).
  // REQUIRES: divisor != 0.
  Status Delta(std::span<const float> w, std::span<const float> w0, float divisor, Transport& transport,
               std::vector<OutFrame>* frames);

 private:
  // Shard s's segment when its float32 slice fits the request region, else nullptr.
  const SharedSegment* StagingSegment(Transport& transport, std::size_t s) const;
  // Encodes a lossy commit; the index of its first NaN or Inf, -1 if none.
  std::ptrdiff_t Encode(std::span<const float> payload, std::vector<OutFrame>* frames);

  std::vector<ShardRange> ranges_;
  std::size_t total_size_ = 0;
  std::vector<CommitEncoder> encoders_;  // one per shard when commits are lossy
  std::vector<float> delta_scratch_;     // Delta's commit when it cannot go straight into the segments
};

}  // namespace asyncps::internal
