#include "commit_encoder.h"
#include "asyncps/core/top_k.h"
#include "asyncps/core/bfloat16.h"
#include "asyncps/core/payload.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace asyncps::internal {

CommitEncoder::CommitEncoder(const Compression& compression, std::size_t slice_size)
    : compression_(compression), slice_size_(slice_size) {
  if (compression_.error_feedback) residual_.assign(slice_size, 0.0f);
}

void CommitEncoder::Encode(std::span<const float> slice) {
  if (sparse()) {
    EncodeTopK(slice);
  } else {
    EncodeDense(slice);
  }
}

void CommitEncoder::EncodeDense(std::span<const float> slice) {
  // Dense lossy commits are bf16 (Compression::lossy_commits).
  count_ = slice_size_;
  frame_bytes_ = count_ * sizeof(std::uint16_t);
  words_.resize((frame_bytes_ + 3) / 4);
  auto* out = reinterpret_cast<std::uint16_t*>(words_.data());
  if (residual_.empty()) {
    EncodeBfloat16(slice, out);
  } else {
    EncodeBfloat16WithResidual(slice, residual_, out);
  }
}

void CommitEncoder::EncodeTopK(std::span<const float> slice) {
  std::span<const float> source = slice;
  if (!residual_.empty()) {
    for (std::size_t i = 0; i < slice_size_; ++i) residual_[i] += slice[i];
    source = residual_;
  }
  const auto k = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::llround(compression_.commit_top_k * static_cast<double>(slice_size_))));
  SelectTopK(source, std::min(k, slice_size_), positions_, scratch_);
  count_ = positions_.size();
  const std::size_t value_bytes = count_ * BytesPerValue(compression_.commit);
  frame_bytes_ = count_ * sizeof(std::uint32_t) + value_bytes;
  words_.resize((frame_bytes_ + 3) / 4);
  std::copy(positions_.begin(), positions_.end(), words_.begin());
  std::byte* values = reinterpret_cast<std::byte*>(words_.data() + count_);
  for (std::size_t j = 0; j < count_; ++j) {
    const std::uint32_t i = positions_[j];
    float sent = source[i];
    if (compression_.commit == Encoding::kBfloat16) {
      const std::uint16_t b = ToBfloat16Finite(sent);
      std::memcpy(values + j * sizeof b, &b, sizeof b);
      sent = FromBfloat16(b);
    } else {
      std::memcpy(values + j * sizeof sent, &sent, sizeof sent);
    }
    if (!residual_.empty()) residual_[i] -= sent;
  }
}

}  // namespace asyncps::internal
