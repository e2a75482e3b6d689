// Compression: how payload values travel on the wire, and their codecs.
//
// Pulls and commits move float32 by default. Two optional lossy forms cut the
// bytes of an exchange:
//   bf16   bfloat16, float32's upper 16 bits rounded to nearest even: the same
//          range, 8 significant bits, half the bytes. For pulls and commits.
//   top-k  commits only: of each shard's slice, only the fraction k of entries
//          with the largest magnitude travel, as (index, value) pairs.
// A worker keeps what a lossy commit did not send (the entries left out, the
// rounding) as a residual and adds it to its next commit (error feedback), so
// an update is delayed, not dropped - except what is still in the residual when
// the worker stops. The PS keeps float32 throughout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "asyncps/core/status.h"

namespace asyncps {

enum class Encoding : std::uint8_t { kFloat32, kBfloat16 };

// "f32", "bf16".
const char* EncodingName(Encoding e);
// Accepts "f32"/"float32" and "bf16"/"bfloat16", case-insensitive.
Result<Encoding> ParseEncoding(std::string_view name);
std::size_t BytesPerValue(Encoding e);

struct Compression {
  Encoding pull = Encoding::kFloat32;    // the weights a pull returns
  Encoding commit = Encoding::kFloat32;  // the values a commit sends
  // 0: dense commits. In (0, 1): each commit sends this fraction of each
  // shard's entries (at least one), those of largest magnitude.
  double commit_top_k = 0;
  // Keep what lossy commits did not send and add it to the next commit.
  bool error_feedback = true;

  bool lossy_commits() const { return commit != Encoding::kFloat32 || commit_top_k > 0; }
  // OK, or InvalidArgument naming the bad field.
  Status Validate() const;
};

}  // namespace asyncps
