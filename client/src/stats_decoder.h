// DecodeShardStats: a shard's Stats reply (FlatBuffers, wire/asyncps.fbs) as
// the ShardStats that Client::Stats returns.
#pragma once

#include "asyncps/client/client.h"
#include "asyncps/wire/wire.h"

namespace asyncps::internal {

// Everything `in` says; endpoint is left empty (the client knows it). Error
// codes the wire enum does not name (a newer server's) are kept as "code<N>";
// Blocked, the staleness bound's wait, is not an error and is left out. Lists
// a server that predates them does not send stay empty.
ShardStats DecodeShardStats(const wire::ShardStats& in);

}  // namespace asyncps::internal
