#include "commit_frame.h"

#include <utility>

#include "asyncps/core/payload.h"
#include "asyncps/core/rule_kernels.h"

namespace asyncps::internal {
namespace {

Status NonFiniteCommit(std::size_t element) {
  return Status::InvalidArgument("commit payload element " + std::to_string(element) +
                                 " is NaN or Inf; nothing was sent (diverged training? lower the learning rate)");
}

}  // namespace

Status CheckFloatCount(std::size_t n, std::size_t layout_size, const char* what) {
  if (n == layout_size) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " has " + std::to_string(n) + " floats but the layout has " +
                                 std::to_string(layout_size));
}

CommitFramer::CommitFramer(std::vector<ShardRange> ranges, std::size_t total_size, const Compression& compression)
    : ranges_(std::move(ranges)), total_size_(total_size) {
  if (compression.lossy_commits())
    for (const ShardRange& r : ranges_) encoders_.emplace_back(compression, r.size());
}

const SharedSegment* CommitFramer::StagingSegment(Transport& transport, std::size_t s) const {
  const SharedSegment* segment = transport.segment(s);
  if (segment == nullptr || ranges_[s].size() * sizeof(float) > segment->request().size()) return nullptr;
  return segment;
}

std::vector<OutFrame> CommitFramer::Dense(std::span<const float> values) const {
  std::vector<OutFrame> frames(ranges_.size());
  for (std::size_t s = 0; s < frames.size(); ++s) {
    const auto slice = values.subspan(ranges_[s].begin, ranges_[s].size());
    frames[s] = {std::as_bytes(slice), slice.size(), Encoding::kFloat32, false};
  }
  return frames;
}

// Shards refuse NaN/Inf too, but each only for its own slice: checking here
// keeps a bad commit from reaching any shard.
Status CommitFramer::Commit(std::span<const float> payload, Transport& transport, std::vector<OutFrame>* frames) {
  if (Status st = CheckFloatCount(payload.size(), total_size_, "commit payload"); !st.ok()) return st;
  std::ptrdiff_t bad = -1;
  if (!encoders_.empty()) {
    bad = Encode(payload, frames);
  } else {
    *frames = Dense(payload);
    for (std::size_t s = 0; s < ranges_.size() && bad < 0; ++s) {
      const auto slice = payload.subspan(ranges_[s].begin, ranges_[s].size());
      const SharedSegment* segment = StagingSegment(transport, s);
      if (segment == nullptr) {
        bad = FirstNonFinite(slice);
      } else {
        bad = CopyCheckingFinite(slice, reinterpret_cast<float*>(segment->request().data()));
        (*frames)[s].staged_in = segment->name();
      }
      if (bad >= 0) bad += static_cast<std::ptrdiff_t>(ranges_[s].begin);
    }
  }
  if (bad >= 0) return NonFiniteCommit(static_cast<std::size_t>(bad));
  return Status::OK();
}

Status CommitFramer::Delta(std::span<const float> w, std::span<const float> w0, float divisor, Transport& transport,
                           std::vector<OutFrame>* frames) {
  if (Status st = CheckFloatCount(w.size(), total_size_, "commit weights"); !st.ok()) return st;
  if (Status st = CheckFloatCount(w0.size(), total_size_, "commit base weights"); !st.ok()) return st;
  if (!encoders_.empty()) {
    delta_scratch_.resize(w.size());
    ComputeDelta(w, w0, divisor, delta_scratch_);
    return Commit(delta_scratch_, transport, frames);
  }
  frames->assign(ranges_.size(), OutFrame{});
  for (std::size_t s = 0; s < ranges_.size(); ++s) {
    const ShardRange& r = ranges_[s];
    const SharedSegment* segment = StagingSegment(transport, s);
    if (segment == nullptr) delta_scratch_.resize(w.size());  // once; untouched when every shard has a segment
    const std::span<float> out = segment != nullptr
                                     ? std::span(reinterpret_cast<float*>(segment->request().data()), r.size())
                                     : std::span(delta_scratch_).subspan(r.begin, r.size());
    const std::ptrdiff_t bad =
        DeltaCheckingFinite(w.subspan(r.begin, r.size()), w0.subspan(r.begin, r.size()), divisor, out.data());
    if (bad >= 0) return NonFiniteCommit(r.begin + static_cast<std::size_t>(bad));
    (*frames)[s] = {std::as_bytes(out), r.size(), Encoding::kFloat32, false,
                    segment != nullptr ? segment->name() : std::string()};
  }
  return Status::OK();
}

// The residuals of error feedback move on (in place) only once the whole
// payload was found finite; a commit that then fails on the wire is not taken
// back.
std::ptrdiff_t CommitFramer::Encode(std::span<const float> payload, std::vector<OutFrame>* frames) {
  if (const std::ptrdiff_t bad = FirstNonFinite(payload); bad >= 0) return bad;
  frames->assign(encoders_.size(), OutFrame{});
  for (std::size_t s = 0; s < encoders_.size(); ++s) {
    CommitEncoder& e = encoders_[s];
    e.Encode(payload.subspan(ranges_[s].begin, ranges_[s].size()));
    (*frames)[s] = {e.frame(), e.count(), e.encoding(), e.sparse()};
  }
  return -1;
}

}  // namespace asyncps::internal
