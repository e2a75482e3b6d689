// libFuzzer target: the client's side of the wire, everything a client does
// with a shard's reply before trusting it: verify the header (wire::VerifyReply),
// map its error (wire::ReplyStatus), read every field of a stats reply, and
// read the payload frame as the client does (wire::ReadPayload, Decode).
#include <cstdint>

#include "fuzz_input.h"
#include "asyncps/wire/wire.h"
#include "asyncps/core/counter_table.h"

using namespace asyncps;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in({data, size});
  const std::size_t header_len = in.U16();
  const std::span<const std::byte> header = in.Bytes(header_len);
  const std::span<const std::byte> payload = in.Rest();

  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Reply* reply = wire::VerifyReply(header, scratch, &why);
  if (reply == nullptr) return 0;
  volatile std::uint64_t sink = 0;
  const Status st = wire::ReplyStatus(*reply, "shard 0 at tcp://fuzz:1");
  sink = sink + st.message().size() + reply->seq() + reply->updates() + reply->range_begin() + reply->range_end();
  if (const wire::ShardStats* s = reply->stats()) {
    sink = sink + s->shard_index() + s->num_shards() + static_cast<int>(s->algorithm()) + s->initialised() +
           s->range_begin() + s->range_end();
    ShardCounters counters;
    wire::ReadCounters(*s, &counters);
    for (const ShardCounterInfo& c : kShardCounters) sink = sink + counters.*c.field;
    if (s->per_worker())
      for (const wire::WorkerCount* w : *s->per_worker()) sink = sink + w->worker_id() + w->commits();
    if (s->errors_by_code())
      for (std::uint64_t c : *s->errors_by_code()) sink = sink + c;
    (void)wire::FromWire(s->algorithm());
  }
  // The client reads a payload only of the size it expects for its slice, in
  // the encoding the reply names, and decodes it into the weights.
  std::vector<std::uint32_t> payload_scratch;
  const std::uint64_t n = reply->payload_floats();
  Result<Encoding> encoding = wire::FromWire(reply->payload_encoding());
  if (encoding.ok() && n <= payload.size()) {
    Result<PayloadView> view = wire::ReadPayload(payload, static_cast<std::size_t>(n), encoding.value(), false,
                                                 static_cast<std::size_t>(n), payload_scratch);
    if (view.ok()) {
      std::vector<float> weights(view.value().count);
      Decode(view.value(), weights);
      sink = sink + static_cast<std::uint64_t>(FirstNonFinite(weights) + 1);
    }
  }
  return 0;
}
