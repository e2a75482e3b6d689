// ParameterLayout: a model's parameters as an ordered list of named float32
// tensors, flattened into one vector and partitioned into contiguous shard ranges.
//
// The layout is the one vocabulary shared by the model (which owns the flat
// parameter buffer), the client (which splits commits and assembles pulls) and the
// shards (which each hold one range). Ranges are balanced by element count, so a
// large tensor (the seed CNN's 4608x225 dense kernel) is split across shards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps {

// The most float32 elements one tensor, and a whole layout, may hold: 2^31 - 1
// (8 GiB), so that every dimension and offset fits the 32-bit ints BLAS takes.
inline constexpr std::size_t kMaxLayoutElements = (std::size_t{1} << 31) - 1;

// The product of `factors` (1 for none), or nullopt when it is larger than
// `max` (an overflow of std::size_t included). A zero factor gives 0.
std::optional<std::size_t> BoundedProduct(std::span<const std::size_t> factors, std::size_t max = kMaxLayoutElements);
inline std::optional<std::size_t> BoundedProduct(std::initializer_list<std::size_t> factors,
                                                 std::size_t max = kMaxLayoutElements) {
  return BoundedProduct(std::span<const std::size_t>(factors.begin(), factors.size()), max);
}

struct TensorSpec {
  std::string name;
  std::vector<std::size_t> shape;
  // Product of the shape (1 for a scalar); SIZE_MAX when that overflows (such a
  // tensor is never part of a ParameterLayout).
  std::size_t size() const;
  bool operator==(const TensorSpec&) const = default;
};

// Half-open range [begin, end) of the flat parameter vector.
struct ShardRange {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
  bool operator==(const ShardRange&) const = default;
};

class ParameterLayout {
 public:
  ParameterLayout() = default;
  // Add for each tensor in order (throws as Add does).
  explicit ParameterLayout(std::vector<TensorSpec> tensors);

  // Appends a tensor after the existing ones and returns its offset in the flat
  // vector. Fails with InvalidArgument naming the tensor, its shape and the
  // maximum when the tensor, or the layout with it, would hold more than
  // kMaxLayoutElements; the layout is unchanged then. Use this for shapes that
  // come from outside (files, requests, users).
  Result<std::size_t> TryAdd(std::string name, std::vector<std::size_t> shape);

  // TryAdd for shapes known to fit. REQUIRES: TryAdd would succeed; otherwise
  // throws std::length_error with TryAdd's message (a size is never wrapped).
  std::size_t Add(std::string name, std::vector<std::size_t> shape);

  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  std::size_t num_tensors() const { return tensors_.size(); }
  // Total number of float32 elements (at most kMaxLayoutElements).
  std::size_t total_size() const { return total_; }
  // Offset of tensor i in the flat vector. REQUIRES: i < num_tensors().
  std::size_t offset(std::size_t i) const { return offsets_[i]; }

  // Splits [0, total_size()) into num_shards contiguous ranges whose sizes differ
  // by at most one element. REQUIRES: num_shards >= 1.
  std::vector<ShardRange> Partition(std::size_t num_shards) const;

  // 64-bit FNV-1a over the tensor names, shapes and the shard count: two workers
  // agree on the fingerprint iff they would split the same vector the same way.
  std::uint64_t Fingerprint(std::size_t num_shards) const;

  // OK when the layouts are identical; otherwise a Mismatch naming the first
  // difference (tensor count, a name, a shape).
  Status Compare(const ParameterLayout& expected) const;

  // One line per tensor: "name [d0,d1,...] size".
  std::string Describe() const;

  bool operator==(const ParameterLayout& o) const { return tensors_ == o.tensors_; }

 private:
  std::vector<TensorSpec> tensors_;
  std::vector<std::size_t> offsets_;
  std::size_t total_ = 0;
};

// "[3,3,1,32]"
std::string ShapeToString(const std::vector<std::size_t>& shape);

}  // namespace asyncps
