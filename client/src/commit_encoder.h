// CommitEncoder: the worker side of lossy commits (asyncps/compression.h) for
// one shard. It turns the shard's slice of each commit into its wire frame and
// keeps, with error feedback on, the residual: everything the frames have not
// carried yet, which joins the next commit.
//
// Frame layout (the payload frame of a Commit / CommitAndPull request):
//   dense:  count values in the encoding (count = the slice's size)
//   sparse: count uint32 positions within the slice (increasing), then the
//           count values in the encoding
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "asyncps/core/compression.h"

namespace asyncps::internal {

class CommitEncoder {
 public:
  // REQUIRES: compression.Validate().ok() and compression.lossy_commits().
  CommitEncoder(const Compression& compression, std::size_t slice_size);

  // Encodes `slice` (plus the residual) into frame(); the residual becomes
  // what the frame leaves out, in place.
  // REQUIRES: slice.size() == the slice size; no NaN or Inf in `slice` (the
  // client checks every shard's slice first, so a refused commit changes no
  // residual).
  void Encode(std::span<const float> slice);

  std::span<const std::byte> frame() const { return std::as_bytes(std::span(words_)).first(frame_bytes_); }
  std::size_t count() const { return count_; }
  bool sparse() const { return compression_.commit_top_k > 0; }
  Encoding encoding() const { return compression_.commit; }
  // Empty without error feedback.
  std::span<const float> residual() const { return residual_; }

 private:
  void EncodeDense(std::span<const float> slice);
  void EncodeTopK(std::span<const float> slice);

  Compression compression_;
  std::size_t slice_size_;
  std::vector<float> residual_;
  std::vector<std::uint32_t> words_;  // the frame, 4-byte aligned
  std::size_t frame_bytes_ = 0;
  std::size_t count_ = 0;
  std::vector<std::uint32_t> positions_;
  std::vector<float> scratch_;
};

}  // namespace asyncps::internal
