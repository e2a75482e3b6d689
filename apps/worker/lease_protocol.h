// The data-lease protocol between asyncps-worker --join and asyncps-local's
// lease service (apps/launcher/lease_service.h): one ZeroMQ REQ/REP message
// each way, a line of text "verb key=value ..." with unsigned integer values.
//
//   hello rows=N pgid=P        -> welcome worker=I epochs=E renew_ms=M
//   next worker=I              -> range lease=L epoch=E index=K ranges=R begin=B end=F
//                                 | wait ms=M | done
//   renew worker=I             -> ok
//   complete worker=I lease=L  -> ok
//   leave worker=I\n<json>     -> ok       (the worker's report, WorkerReport's JSON)
//   any refused request        -> error <why>
//
// Every message is checked by ParseLeaseMessage: a known verb, each field a
// decimal integer, no field missing, none unknown or repeated.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::worker {

// The largest message either side accepts (a leave's report included).
inline constexpr std::size_t kMaxLeaseMessage = 64 * 1024;

struct LeaseMessage {
  std::string verb;
  std::map<std::string, std::uint64_t> fields;
  std::string body;  // after the first line: leave's report JSON; "error"'s reason
};

// "verb k=v k=v" (and "\n" + body when it has one).
std::string FormatLeaseMessage(const LeaseMessage& m);

// Parses `text` as a message whose verb is one of `expected` (each "verb:
// field field ..." lists the fields it must carry, exactly). "error <why>" is
// always accepted, its reason in `body`. InvalidArgument naming what is wrong.
Result<LeaseMessage> ParseLeaseMessage(const std::string& text, const std::vector<std::string>& expected);

}  // namespace asyncps::worker
