// The wire module: the one place that builds, verifies and reads asyncps messages.
// Internal: never installed; used by the client library, the server and the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "asyncps/compression.h"
#include "asyncps/layout.h"
#include "asyncps/status.h"
#include "asyncps/update_rule.h"
#include "asyncps_generated.h"

namespace asyncps::wire {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr const char* kFileIdentifier = "APS1";
// Header frames are small (a layout of a few hundred tensors at most).
inline constexpr std::size_t kMaxHeaderBytes = 1 << 20;

// Verifies `bytes` as a Request: identifier, FlatBuffers structure (with depth,
// table and alignment checks) and size bound. Returns nullptr and sets `why` on
// failure. A misaligned frame is first copied into `scratch`; the result points
// into `bytes` or `scratch`, so both must outlive its use.
const Request* VerifyRequest(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why);
const Reply* VerifyReply(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why);

// Reads frame 1 as `count` values in `encoding`, after `count` uint32
// positions when `sparse`, for a slice of `slice_size` elements. Checks the
// frame's size, the count (dense: == slice_size; sparse: 1..slice_size) and
// that the positions increase strictly within the slice. Data is read in place
// when 4-byte aligned; otherwise copied into `scratch` (ZeroMQ does not promise
// alignment). The view points into `frame` or `scratch`.
Result<PayloadView> ReadPayload(std::span<const std::byte> frame, std::size_t count, asyncps::Encoding encoding,
                                bool sparse, std::size_t slice_size, std::vector<std::uint32_t>& scratch);

// Algorithm <-> wire enum. kSingle has no wire form (it never talks to a PS).
wire::Algorithm ToWire(asyncps::Algorithm a);
asyncps::Algorithm FromWire(wire::Algorithm a);
wire::Encoding ToWire(asyncps::Encoding e);
// Fails on a value this build does not know.
Result<asyncps::Encoding> FromWire(wire::Encoding e);

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>> BuildLayout(
    flatbuffers::FlatBufferBuilder& fbb, const ParameterLayout& layout);
// Rejects shapes whose element count overflows or exceeds `max_elements`.
Result<ParameterLayout> ReadLayout(const flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>* specs,
                                   std::size_t max_elements);

// Maps a reply's error code to a Status (OK for Ok), prefixed with `where`.
Status ReplyStatus(const Reply& reply, const std::string& where);

}  // namespace asyncps::wire
