// The wire module: the one place that builds, verifies and reads asyncps messages.
// Internal: never installed; used by the client library, the server and the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asyncps/core/compression.h"
#include "asyncps/core/layout.h"
#include "asyncps/core/shard_counters.h"
#include "asyncps/core/status.h"
#include "asyncps/core/update_rule.h"
#include "asyncps_generated.h"
#include "asyncps/core/payload.h"
#include "asyncps/core/counter_table.h"

namespace asyncps::wire {

inline constexpr std::uint32_t kProtocolVersion = 2;  // CHANGELOG.md lists each change
inline constexpr const char* kFileIdentifier = "APS1";
// Header frames are small (a layout of a few hundred tensors at most).
inline constexpr std::size_t kMaxHeaderBytes = 1 << 20;

// Verifies `bytes` as a Request: identifier, FlatBuffers structure (with depth,
// table and alignment checks) and size bound. Returns nullptr and sets `why` on
// failure. A misaligned frame is first copied into `scratch`; the result points
// into `bytes` or `scratch`, so both must outlive its use.
const Request* VerifyRequest(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why);
const Reply* VerifyReply(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why);

// The bytes of a payload of `count` values in `encoding` (after as many
// uint32 positions when `sparse`).
std::size_t PayloadBytes(std::size_t count, asyncps::Encoding encoding, bool sparse);

// Reads frame 1 as `count` values in `encoding`, after `count` uint32
// positions when `sparse`, for a slice of `slice_size` elements. Checks the
// frame's size, the count (dense: == slice_size; sparse: 1..slice_size) and
// that the positions increase strictly within the slice. Data is read in place
// when 4-byte aligned; otherwise copied into `scratch` (ZeroMQ does not promise
// alignment). The view points into `frame` or `scratch`.
Result<PayloadView> ReadPayload(std::span<const std::byte> frame, std::size_t count, asyncps::Encoding encoding,
                                bool sparse, std::size_t slice_size, std::vector<std::uint32_t>& scratch);

// Algorithm <-> wire enum. kSingle has no wire form (it never talks to a PS):
// InvalidArgument.
Result<wire::Algorithm> ToWire(asyncps::Algorithm a);
asyncps::Algorithm FromWire(wire::Algorithm a);
wire::Encoding ToWire(asyncps::Encoding e);
// Fails on a value this build does not know.
Result<asyncps::Encoding> FromWire(wire::Encoding e);

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>> BuildLayout(
    flatbuffers::FlatBufferBuilder& fbb, const ParameterLayout& layout);
// Rejects shapes whose element count overflows or exceeds `max_elements`.
Result<ParameterLayout> ReadLayout(const flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>* specs,
                                   std::size_t max_elements);

// Every field of a request header. The client, the fuzzers and the tests build
// requests only through BuildRequest / EncodeRequest.
struct RequestHeader {
  Op op = Op::Pull;
  std::uint32_t protocol_version = kProtocolVersion;
  std::uint32_t worker_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t fingerprint = 0;  // ParameterLayout::Fingerprint(num_shards)
  std::uint32_t shard_index = 0;
  std::uint32_t num_shards = 1;
  Algorithm algorithm = Algorithm::Adag;    // Hello
  const ParameterLayout* layout = nullptr;  // Hello; not owned, read during the build
  std::uint64_t last_pulled_updates = 0;
  std::uint64_t payload_floats = 0;
  std::uint64_t session = 0;
  Encoding payload_encoding = Encoding::Float32;
  bool payload_sparse = false;
  Encoding pull_encoding = Encoding::Float32;
  bool observer = false;                // Hello: a client that never commits (the staleness bound ignores it)
  std::string_view segment;             // the connection's shared-memory segment; empty: none
  bool payload_in_segment = false;      // the payload lies in the segment's request region
  std::uint64_t reply_chunk_bytes = 0;  // a larger pull reply comes in chunks (ReplyChunkValues); 0: whole
  // For the status page (Request.train_loss, .test_accuracy); absent: not sent.
  std::optional<float> train_loss;
  std::optional<float> test_accuracy;
  std::uint32_t window = 0;          // Hello: batches per commit (0: not said)
  bool unfinished = false;           // Leave: stopping before the end of its training
  std::uint64_t replay_commits = 0;  // Replay: the commits the payload sums
  bool recovery = false;             // Init: the worker's copy, pulled at last_pulled_updates
};

// Builds `h` into `fbb` (cleared first). The algorithm and the layout travel
// with Hello only.
void BuildRequest(const RequestHeader& h, flatbuffers::FlatBufferBuilder& fbb);
// The same, as bytes.
std::vector<std::byte> EncodeRequest(const RequestHeader& h);

// Commit and CommitAndPull: the ops that carry a commit.
inline bool IsCommit(Op op) { return op == Op::Commit || op == Op::CommitAndPull; }

// True for the reply codes that mean a request failed. AlreadyInitialised (a
// later worker's Init: the first one's weights won, as designed) and Blocked
// (the staleness bound holds a pull; the client resends) are expected answers
// of a healthy run, so neither is a failure in logs, status.json or alerts.
inline bool IsFailure(ErrorCode code) {
  return code != ErrorCode::Ok && code != ErrorCode::AlreadyInitialised && code != ErrorCode::Blocked;
}

// Every field of a reply header. The shard builds replies only through BuildReply.
struct ReplyHeader {
  Op op = Op::Hello;
  std::uint64_t seq = 0;
  ErrorCode error = ErrorCode::Ok;
  std::string_view message;  // empty: none
  std::uint64_t updates = 0;
  std::uint64_t range_begin = 0;
  std::uint64_t range_end = 0;
  std::uint64_t payload_floats = 0;
  Encoding payload_encoding = Encoding::Float32;
  std::uint64_t max_message_bytes = 0;    // Hello replies
  bool payload_in_segment = false;        // the slice lies in the request's segment (reply region)
  bool segment_attached = false;          // Hello replies: the shard opened the hello's segment
  flatbuffers::Offset<ShardStats> stats;  // Stats: built into the same fbb first
  // One chunk of a pull reply sent in `chunks` > 1 messages: its index and
  // the slice position of its first value.
  std::uint32_t chunk = 0;
  std::uint32_t chunks = 0;
  std::uint64_t chunk_offset = 0;
  // Upstream backup (Reply.incarnation ...): who answered and what is durable.
  std::uint64_t incarnation = 0;
  std::uint64_t durable_seq = 0;
  std::uint64_t restored_seq = 0;
  float applied_scale = 0;
  bool checkpointing = false;  // Hello replies
  bool recovering = false;     // waits for a worker's copy (Reply.recovering)
};
// Finishes `h` in `fbb` (not cleared: `stats` may already be in it).
void BuildReply(const ReplyHeader& h, flatbuffers::FlatBufferBuilder& fbb);

// Chunked pull replies (Request.reply_chunk_bytes): how many values each
// chunk of a slice of `values` in `encoding` carries (the last one fewer;
// `values` itself: one message). A chunk holds at least kMinReplyChunkBytes
// and a reply at most kMaxReplyChunks chunks, whatever the client asks, so
// that one reply stays a few messages (the shard's send queue bounds them).
inline constexpr std::size_t kMinReplyChunkBytes = std::size_t{64} << 10;
inline constexpr std::size_t kMaxReplyChunks = 16;
std::size_t ReplyChunkValues(std::size_t values, asyncps::Encoding encoding, std::uint64_t requested_bytes);
// Whether `reply` is one chunk of a chunked pull reply (its payload the
// values from chunk_offset() on), not a whole one.
inline bool IsChunked(const Reply& reply) { return reply.chunks() > 1; }

// Builds chunk `chunk` of `chunks` (its values from `offset` on) of the pull
// reply `whole` into `fbb` (cleared first): the same header with the chunk's
// fields.
void BuildReplyChunk(const Reply& whole, std::uint32_t chunk, std::uint32_t chunks, std::uint64_t offset,
                     flatbuffers::FlatBufferBuilder& fbb);

// Every counter of kShardCounters, by name (ShardStats.counters).
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<Counter>>> BuildCounters(
    flatbuffers::FlatBufferBuilder& fbb, const ShardCounters& counters);
// The counters of `stats` this build knows; unknown names are skipped, and
// counters missing from the reply stay as they are.
void ReadCounters(const ShardStats& stats, ShardCounters* out);

// Maps a reply's error code to a Status (OK for Ok), prefixed with `where`.
Status ReplyStatus(const Reply& reply, const std::string& where);

}  // namespace asyncps::wire
