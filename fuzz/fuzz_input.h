// The fuzz targets' input formats, shared by the targets and the corpus generator.
//
// shard_fuzzer input:
//   byte 0      setup: bits 0-1 start state (0 fresh, 1 after a hello, 2 after
//               hello + init, 3 as 2 but shard 1 of 2); bits 2-4 algorithm
//               (mod 5, wire order); bit 5 set: NaN/Inf payloads are allowed;
//               bit 6 set: the shard recovers from workers (a recovery init
//               sets its update count to the copy's)
//   then up to kMaxMessages messages, each
//               u16 header length, u16 payload length (little-endian),
//               header bytes, payload bytes (cut short at the end of the input)
// A message with payload length 0 has no payload frame.
//
// reply_fuzzer input: u16 header length, header bytes, payload bytes (the rest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace asyncps::fuzz {

inline constexpr std::size_t kMaxMessages = 16;

enum class StartState : std::uint8_t { kFresh = 0, kHello = 1, kInitialised = 2, kSecondOfTwo = 3 };

// Consumes the input front to back; every read is bounded by what is left.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  std::uint8_t U8() { return empty() ? 0 : data_[pos_++]; }
  std::uint16_t U16() {
    const std::uint16_t lo = U8();
    return static_cast<std::uint16_t>(lo | (U8() << 8));
  }
  // Up to n bytes (fewer at the end of the input).
  std::span<const std::byte> Bytes(std::size_t n) {
    n = std::min(n, data_.size() - std::min(pos_, data_.size()));
    auto out = std::as_bytes(data_.subspan(pos_, n));
    pos_ += n;
    return out;
  }
  std::span<const std::byte> Rest() { return Bytes(data_.size()); }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

// Builds inputs in the same format (corpus generator, regression tests).
class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(v); }
  void U16(std::uint16_t v) {
    U8(static_cast<std::uint8_t>(v & 0xff));
    U8(static_cast<std::uint8_t>(v >> 8));
  }
  void Append(std::span<const std::byte> b) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
    out_.insert(out_.end(), p, p + b.size());
  }
  // One shard_fuzzer message.
  void Message(std::span<const std::byte> header, std::span<const std::byte> payload = {}) {
    U16(static_cast<std::uint16_t>(header.size()));
    U16(static_cast<std::uint16_t>(payload.size()));
    Append(header);
    Append(payload);
  }
  const std::vector<std::uint8_t>& bytes() const { return out_; }

 private:
  std::vector<std::uint8_t> out_;
};

}  // namespace asyncps::fuzz
