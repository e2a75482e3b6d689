#include "asyncps/core/layout.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace asyncps {

std::optional<std::size_t> BoundedProduct(std::span<const std::size_t> factors, std::size_t max) {
  // A zero factor makes the product 0 whatever the others are.
  if (std::find(factors.begin(), factors.end(), std::size_t{0}) != factors.end()) return 0;
  std::size_t n = 1;
  for (std::size_t d : factors) {
    if (n > max / d) return std::nullopt;  // n * d > max, without computing it
    n *= d;
  }
  return n;
}

std::size_t TensorSpec::size() const {
  const std::optional<std::size_t> n = BoundedProduct(shape, std::numeric_limits<std::size_t>::max());
  return n ? *n : std::numeric_limits<std::size_t>::max();
}

std::string ShapeToString(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

ParameterLayout::ParameterLayout(std::vector<TensorSpec> tensors) {
  for (auto& t : tensors) Add(std::move(t.name), std::move(t.shape));
}

Result<std::size_t> ParameterLayout::TryAdd(std::string name, std::vector<std::size_t> shape) {
  const std::optional<std::size_t> n = BoundedProduct(shape);
  if (!n || *n > kMaxLayoutElements - total_) {
    const std::string max = std::to_string(kMaxLayoutElements);
    return Status::InvalidArgument(!n ? "tensor '" + name + "' of shape " + ShapeToString(shape) +
                                            " has more than the maximum of " + max + " elements (2^31 - 1)"
                                      : "tensor '" + name + "' of shape " + ShapeToString(shape) +
                                            " takes the layout over the maximum of " + max +
                                            " elements (2^31 - 1): it already holds " + std::to_string(total_));
  }
  const std::size_t at = total_;
  offsets_.push_back(at);
  total_ += *n;
  tensors_.push_back({std::move(name), std::move(shape)});
  return at;
}

std::size_t ParameterLayout::Add(std::string name, std::vector<std::size_t> shape) {
  Result<std::size_t> at = TryAdd(std::move(name), std::move(shape));
  if (!at.ok()) throw std::length_error(at.status().message());
  return at.value();
}

std::vector<ShardRange> ParameterLayout::Partition(std::size_t num_shards) const {
  std::vector<ShardRange> ranges(num_shards);
  const std::size_t base = total_ / num_shards, extra = total_ % num_shards;
  std::size_t begin = 0;
  for (std::size_t s = 0; s < num_shards; ++s) {
    const std::size_t n = base + (s < extra ? 1 : 0);
    ranges[s] = {begin, begin + n};
    begin += n;
  }
  return ranges;
}

namespace {
constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

void Mix(std::uint64_t& h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
}
void MixU64(std::uint64_t& h, std::uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));  // endian-free
  Mix(h, b, 8);
}
}  // namespace

std::uint64_t ParameterLayout::Fingerprint(std::size_t num_shards) const {
  std::uint64_t h = kFnvOffset;
  MixU64(h, tensors_.size());
  for (const auto& t : tensors_) {
    MixU64(h, t.name.size());
    Mix(h, t.name.data(), t.name.size());
    MixU64(h, t.shape.size());
    for (std::size_t d : t.shape) MixU64(h, d);
  }
  MixU64(h, num_shards);
  return h;
}

Status ParameterLayout::Compare(const ParameterLayout& expected) const {
  const std::size_t n = std::min(tensors_.size(), expected.tensors_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = tensors_[i];
    const auto& b = expected.tensors_[i];
    if (a.name != b.name)
      return Status::Mismatch("tensor " + std::to_string(i) + " is named '" + a.name + "' here but '" + b.name +
                              "' on the server");
    if (a.shape != b.shape)
      return Status::Mismatch("tensor '" + a.name + "' has shape " + ShapeToString(a.shape) + " here but " +
                              ShapeToString(b.shape) + " on the server");
  }
  if (tensors_.size() != expected.tensors_.size())
    return Status::Mismatch("layout has " + std::to_string(tensors_.size()) + " tensors here but " +
                            std::to_string(expected.tensors_.size()) + " on the server");
  return Status::OK();
}

std::string ParameterLayout::Describe() const {
  std::ostringstream out;
  for (const auto& t : tensors_) out << t.name << " " << ShapeToString(t.shape) << " " << t.size() << "\n";
  return out.str();
}

}  // namespace asyncps
