#include "asyncps/wire/wire.h"
#include "asyncps/core/counter_table.h"

#include <algorithm>
#include <cstring>

namespace asyncps::wire {
namespace {

// Headers are shallow and small: tight limits bound the verifier's work.
flatbuffers::Verifier::Options VerifierOptions() {
  flatbuffers::Verifier::Options o;
  o.max_depth = 16;
  o.max_tables = 100000;
  o.check_alignment = true;
  return o;
}

// FlatBuffers' verifier checks the alignment of scalars in tables but not of
// the elements of scalar vectors (flatbuffers #8397), and its readers load them
// in place: a hostile [ulong] at an odd offset would be a misaligned load (UB;
// found by reply_fuzzer). Builders always align them, so a misaligned one is
// malformed. Every 8-byte scalar vector in the schema is checked here: add new
// ones. REQUIRES: the buffer start is 8-byte aligned (Verify ensures it).
template <typename V>
bool Aligned(const V* v) {
  return v == nullptr || reinterpret_cast<std::uintptr_t>(v->Data()) % alignof(std::uint64_t) == 0;
}
bool ScalarVectorsAligned(const Request& r) {
  if (r.layout() == nullptr) return true;
  for (const TensorSpec* t : *r.layout())
    if (!Aligned(t->shape())) return false;
  return true;
}
bool ScalarVectorsAligned(const Reply& r) { return r.stats() == nullptr || Aligned(r.stats()->errors_by_code()); }

template <typename T>
const T* Verify(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why) {
  if (bytes.size() > kMaxHeaderBytes) {
    *why = "header frame of " + std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(kMaxHeaderBytes);
    return nullptr;
  }
  // Too short for an identifier: checked before the copy below, which must not
  // memcpy into an empty scratch's null data() (UB; found by shard_fuzzer).
  if (bytes.size() < 8) {
    *why = "not an asyncps message (" + std::to_string(bytes.size()) + " bytes, missing identifier " +
           std::string(kFileIdentifier) + ")";
    return nullptr;
  }
  // FlatBuffers reads scalars in place: give it an aligned copy if needed.
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    scratch.resize((bytes.size() + 7) / 8);
    std::memcpy(scratch.data(), bytes.data(), bytes.size());
    data = reinterpret_cast<const std::uint8_t*>(scratch.data());
  }
  if (!flatbuffers::BufferHasIdentifier(data, kFileIdentifier)) {
    *why = "not an asyncps message (missing identifier " + std::string(kFileIdentifier) + ")";
    return nullptr;
  }
  flatbuffers::Verifier verifier(data, bytes.size(), VerifierOptions());
  if (!verifier.VerifyBuffer<T>(kFileIdentifier)) {
    *why = "header frame failed FlatBuffers verification";
    return nullptr;
  }
  const T* root = flatbuffers::GetRoot<T>(data);
  if (!ScalarVectorsAligned(*root)) {
    *why = "header frame has a misaligned 64-bit vector";
    return nullptr;
  }
  return root;
}

}  // namespace

const Request* VerifyRequest(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why) {
  return Verify<Request>(bytes, scratch, why);
}

const Reply* VerifyReply(std::span<const std::byte> bytes, std::vector<std::uint64_t>& scratch, std::string* why) {
  return Verify<Reply>(bytes, scratch, why);
}

std::size_t PayloadBytes(std::size_t count, asyncps::Encoding encoding, bool sparse) {
  return count * (BytesPerValue(encoding) + (sparse ? sizeof(std::uint32_t) : 0));
}

Result<PayloadView> ReadPayload(std::span<const std::byte> frame, std::size_t count, asyncps::Encoding encoding,
                                bool sparse, std::size_t slice_size, std::vector<std::uint32_t>& scratch) {
  if (sparse ? (count == 0 || count > slice_size) : count != slice_size) {
    return Status::InvalidArgument("payload has " + std::to_string(count) + (sparse ? " sparse" : "") +
                                   " values but the slice holds " + std::to_string(slice_size) + " elements");
  }
  const std::size_t expected = PayloadBytes(count, encoding, sparse);
  if (frame.size() != expected) {
    return Status::InvalidArgument("payload frame has " + std::to_string(frame.size()) + " bytes, expected " +
                                   std::to_string(expected) + " (" + std::to_string(count) + " " +
                                   EncodingName(encoding) + " values" + (sparse ? " with their positions)" : ")"));
  }
  PayloadView view{encoding, nullptr, count, {}};
  if (count == 0) return view;  // (an empty scratch has no data to copy into)
  const std::byte* data = frame.data();
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint32_t) != 0) {
    scratch.resize((frame.size() + 3) / 4);
    std::memcpy(scratch.data(), frame.data(), frame.size());
    data = reinterpret_cast<const std::byte*>(scratch.data());
  }
  if (sparse) {
    view.indices = {reinterpret_cast<const std::uint32_t*>(data), count};
    data += count * sizeof(std::uint32_t);
    for (std::size_t j = 0; j < count; ++j) {
      if (view.indices[j] >= slice_size || (j > 0 && view.indices[j] <= view.indices[j - 1])) {
        return Status::InvalidArgument("sparse payload position " + std::to_string(j) + " (" +
                                       std::to_string(view.indices[j]) +
                                       ") is out of the slice or not above the one before");
      }
    }
  }
  view.values = data;
  return view;
}

Result<wire::Algorithm> ToWire(asyncps::Algorithm a) {
  switch (a) {
    case asyncps::Algorithm::kDownpour:
      return wire::Algorithm::Downpour;
    case asyncps::Algorithm::kAdag:
      return wire::Algorithm::Adag;
    case asyncps::Algorithm::kDynSgd:
      return wire::Algorithm::DynSgd;
    case asyncps::Algorithm::kEasgd:
      return wire::Algorithm::Easgd;
    case asyncps::Algorithm::kEamsgd:
      return wire::Algorithm::Eamsgd;
    case asyncps::Algorithm::kAverage:
      return wire::Algorithm::Average;
    case asyncps::Algorithm::kSingle:
      break;
  }
  return Status::InvalidArgument(std::string("algorithm '") + AlgorithmName(a) +
                                 "' trains without a parameter server: it has no wire form");
}

asyncps::Algorithm FromWire(wire::Algorithm a) {
  switch (a) {
    case wire::Algorithm::Downpour:
      return asyncps::Algorithm::kDownpour;
    case wire::Algorithm::Adag:
      return asyncps::Algorithm::kAdag;
    case wire::Algorithm::DynSgd:
      return asyncps::Algorithm::kDynSgd;
    case wire::Algorithm::Easgd:
      return asyncps::Algorithm::kEasgd;
    case wire::Algorithm::Eamsgd:
      return asyncps::Algorithm::kEamsgd;
    case wire::Algorithm::Average:
      return asyncps::Algorithm::kAverage;
  }
  return asyncps::Algorithm::kAdag;
}

wire::Encoding ToWire(asyncps::Encoding e) {
  return e == asyncps::Encoding::kBfloat16 ? wire::Encoding::BFloat16 : wire::Encoding::Float32;
}

Result<asyncps::Encoding> FromWire(wire::Encoding e) {
  switch (e) {
    case wire::Encoding::Float32:
      return asyncps::Encoding::kFloat32;
    case wire::Encoding::BFloat16:
      return asyncps::Encoding::kBfloat16;
  }
  return Status::Protocol("unknown payload encoding " + std::to_string(static_cast<int>(e)));
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>> BuildLayout(
    flatbuffers::FlatBufferBuilder& fbb, const ParameterLayout& layout) {
  std::vector<flatbuffers::Offset<TensorSpec>> specs;
  specs.reserve(layout.num_tensors());
  for (const auto& t : layout.tensors()) {
    std::vector<std::uint64_t> shape(t.shape.begin(), t.shape.end());
    specs.push_back(CreateTensorSpec(fbb, fbb.CreateString(t.name), fbb.CreateVector(shape)));
  }
  return fbb.CreateVector(specs);
}

Result<ParameterLayout> ReadLayout(const flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>* specs,
                                   std::size_t max_elements) {
  if (specs == nullptr || specs->size() == 0) return Status::Protocol("layout is missing or empty");
  ParameterLayout layout;
  std::size_t total = 0;
  for (flatbuffers::uoffset_t i = 0; i < specs->size(); ++i) {
    const TensorSpec* t = specs->Get(i);
    if (t->name() == nullptr || t->shape() == nullptr)
      return Status::Protocol("tensor " + std::to_string(i) + " has no name or shape");
    std::vector<std::size_t> shape;
    std::size_t n = 1;
    for (std::uint64_t d : *t->shape()) {
      if (d != 0 && n > max_elements / d)
        return Status::Protocol("tensor '" + t->name()->str() + "' is larger than the maximum of " +
                                std::to_string(max_elements) + " elements");
      n *= d;
      shape.push_back(static_cast<std::size_t>(d));
    }
    total += n;
    if (total > max_elements)
      return Status::Protocol("layout is larger than the maximum of " + std::to_string(max_elements) + " elements");
    if (Result<std::size_t> added = layout.TryAdd(t->name()->str(), std::move(shape)); !added.ok())
      return Status::Protocol(added.status().message());
  }
  return layout;
}

void BuildRequest(const RequestHeader& h, flatbuffers::FlatBufferBuilder& fbb) {
  fbb.Clear();
  const bool hello = h.op == Op::Hello;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<TensorSpec>>> specs;
  if (hello && h.layout != nullptr) specs = BuildLayout(fbb, *h.layout);
  const auto segment = h.segment.empty() ? flatbuffers::Offset<flatbuffers::String>()
                                         : fbb.CreateString(h.segment.data(), h.segment.size());
  RequestBuilder b(fbb);
  b.add_protocol_version(h.protocol_version);
  b.add_op(h.op);
  b.add_worker_id(h.worker_id);
  b.add_seq(h.seq);
  b.add_fingerprint(h.fingerprint);
  b.add_shard_index(h.shard_index);
  b.add_num_shards(h.num_shards);
  if (hello) {
    b.add_algorithm(h.algorithm);
    b.add_layout(specs);
  }
  b.add_last_pulled_updates(h.last_pulled_updates);
  b.add_payload_floats(h.payload_floats);
  b.add_session(h.session);
  b.add_payload_encoding(h.payload_encoding);
  b.add_payload_sparse(h.payload_sparse);
  b.add_pull_encoding(h.pull_encoding);
  b.add_observer(h.observer);
  if (!segment.IsNull()) b.add_segment(segment);
  b.add_payload_in_segment(h.payload_in_segment);
  b.add_reply_chunk_bytes(h.reply_chunk_bytes);
  if (h.train_loss) b.add_train_loss(*h.train_loss);
  if (h.test_accuracy) b.add_test_accuracy(*h.test_accuracy);
  if (hello) b.add_window(h.window);
  b.add_unfinished(h.unfinished);
  b.add_replay_commits(h.replay_commits);
  b.add_recovery(h.recovery);
  fbb.Finish(b.Finish(), kFileIdentifier);
}

std::vector<std::byte> EncodeRequest(const RequestHeader& h) {
  flatbuffers::FlatBufferBuilder fbb;
  BuildRequest(h, fbb);
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return {p, p + fbb.GetSize()};
}

void BuildReply(const ReplyHeader& h, flatbuffers::FlatBufferBuilder& fbb) {
  const auto message = h.message.empty() ? flatbuffers::Offset<flatbuffers::String>()
                                         : fbb.CreateString(h.message.data(), h.message.size());
  ReplyBuilder b(fbb);
  b.add_protocol_version(kProtocolVersion);
  b.add_op(h.op);
  b.add_seq(h.seq);
  b.add_error(h.error);
  if (!message.IsNull()) b.add_message(message);
  b.add_updates(h.updates);
  b.add_range_begin(h.range_begin);
  b.add_range_end(h.range_end);
  b.add_payload_floats(h.payload_floats);
  b.add_payload_encoding(h.payload_encoding);
  if (h.max_message_bytes != 0) b.add_max_message_bytes(h.max_message_bytes);
  b.add_payload_in_segment(h.payload_in_segment);
  b.add_segment_attached(h.segment_attached);
  if (!h.stats.IsNull()) b.add_stats(h.stats);
  if (h.chunks > 1) {
    b.add_chunk(h.chunk);
    b.add_chunks(h.chunks);
    b.add_chunk_offset(h.chunk_offset);
  }
  b.add_incarnation(h.incarnation);
  b.add_durable_seq(h.durable_seq);
  b.add_restored_seq(h.restored_seq);
  b.add_applied_scale(h.applied_scale);
  b.add_checkpointing(h.checkpointing);
  b.add_recovering(h.recovering);
  fbb.Finish(b.Finish(), kFileIdentifier);
}

std::size_t ReplyChunkValues(std::size_t values, asyncps::Encoding encoding, std::uint64_t requested_bytes) {
  if (requested_bytes == 0 || values == 0) return values;
  const std::uint64_t bytes = std::max<std::uint64_t>(requested_bytes, kMinReplyChunkBytes);
  std::size_t chunk =
      std::max<std::size_t>(bytes / BytesPerValue(encoding), (values + kMaxReplyChunks - 1) / kMaxReplyChunks);
  chunk = (chunk + 15) / 16 * 16;  // whole cache lines for the decoder
  return std::min(chunk, values);
}

void BuildReplyChunk(const Reply& whole, std::uint32_t chunk, std::uint32_t chunks, std::uint64_t offset,
                     flatbuffers::FlatBufferBuilder& fbb) {
  fbb.Clear();
  BuildReply({.op = whole.op(),
              .seq = whole.seq(),
              .error = whole.error(),
              .message = whole.message() ? std::string_view(whole.message()->c_str(), whole.message()->size())
                                         : std::string_view(),
              .updates = whole.updates(),
              .range_begin = whole.range_begin(),
              .range_end = whole.range_end(),
              .payload_floats = whole.payload_floats(),
              .payload_encoding = whole.payload_encoding(),
              .chunk = chunk,
              .chunks = chunks,
              .chunk_offset = offset,
              .incarnation = whole.incarnation(),
              .durable_seq = whole.durable_seq(),
              .restored_seq = whole.restored_seq(),
              .applied_scale = whole.applied_scale()},
             fbb);
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<Counter>>> BuildCounters(
    flatbuffers::FlatBufferBuilder& fbb, const ShardCounters& counters) {
  std::vector<flatbuffers::Offset<Counter>> out;
  out.reserve(kShardCounters.size());
  for (const ShardCounterInfo& c : kShardCounters)
    out.push_back(CreateCounter(fbb, fbb.CreateString(c.name.data(), c.name.size()), counters.*c.field));
  return fbb.CreateVector(out);
}

void ReadCounters(const ShardStats& stats, ShardCounters* out) {
  if (stats.counters() == nullptr) return;
  for (const Counter* c : *stats.counters()) {
    if (c->name() == nullptr) continue;
    if (const ShardCounterInfo* info = FindShardCounter(c->name()->string_view())) out->*info->field = c->value();
  }
}

Status ReplyStatus(const Reply& reply, const std::string& where) {
  const std::string msg = where + ": " + (reply.message() ? reply.message()->str() : std::string("(no message)"));
  switch (reply.error()) {
    case ErrorCode::Ok:
      return Status::OK();
    case ErrorCode::Mismatch:
      return Status::Mismatch(msg);
    case ErrorCode::NotInitialised:
      return Status::NotInitialised(msg);
    case ErrorCode::AlreadyInitialised:
      return Status::AlreadyInitialised(msg);
    case ErrorCode::BadSize:
    case ErrorCode::BadValue:
    case ErrorCode::CenterOverflow:
      return Status::InvalidArgument(msg);
    case ErrorCode::SegmentUnavailable:
      return Status::Unavailable(msg);
    default:
      return Status::Protocol(std::string(EnumNameErrorCode(reply.error())) + " from " + msg);
  }
}

}  // namespace asyncps::wire
