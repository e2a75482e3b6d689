// LeaseTable (asyncps-local --elastic's data leases) on a hand-driven clock,
// the protocol's parser, and one round trip through the real ZeroMQ service.
#include <catch2/catch.hpp>

#include "lease_client.h"
#include "lease_protocol.h"
#include "lease_service.h"
#include "lease_table.h"

using asyncps::launcher::HandleLeaseRequest;
using asyncps::launcher::LeaseService;
using asyncps::launcher::LeaseTable;
using asyncps::launcher::LeaseTableOptions;
using asyncps::launcher::NextLease;
using Kind = asyncps::launcher::NextLease::Kind;
using Clock = std::chrono::steady_clock;

namespace {

// A table over 100 rows in 4 ranges, 2 epochs, 10 s leases, at most 3
// workers, on the clock `now`.
LeaseTable MakeTable(Clock::time_point& now, std::uint64_t rows = 100) {
  LeaseTableOptions o;
  o.rows = rows;
  o.ranges = 4;
  o.epochs = 2;
  o.lease_seconds = 10;
  o.max_workers = 3;
  return LeaseTable(o, [&now] { return now; });
}

// Takes worker w's next range and completes it; returns the range's index.
std::uint64_t TrainOne(LeaseTable& t, std::uint32_t w) {
  auto next = t.Next(w);
  REQUIRE(next.ok());
  REQUIRE(next.value().kind == Kind::kRange);
  REQUIRE(t.Complete(w, next.value().lease.id).ok());
  return next.value().lease.index;
}

}  // namespace

TEST_CASE("leases: each range of each epoch once, the next epoch after the last range, then done", "[lease]") {
  Clock::time_point now{};
  LeaseTable t = MakeTable(now);
  auto a = t.Join(100, 7), b = t.Join(100, 8);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value() == 0);
  CHECK(b.value() == 1);
  auto first = t.Next(0);
  REQUIRE(first.ok());
  CHECK(first.value().lease.begin == 0);
  CHECK(first.value().lease.end == 25);
  CHECK(first.value().lease.epoch == 1);
  // Worker 1 takes the other three; epoch 1 still waits for worker 0's range.
  for (int i = 0; i < 3; ++i) TrainOne(t, 1);
  auto wait = t.Next(1);
  REQUIRE(wait.ok());
  CHECK(wait.value().kind == Kind::kWait);
  REQUIRE(t.Complete(0, first.value().lease.id).ok());
  CHECK(t.epoch() == 2);
  for (int i = 0; i < 4; ++i) TrainOne(t, i % 2);
  CHECK(t.finished());
  auto done = t.Next(0);
  REQUIRE(done.ok());
  CHECK(done.value().kind == Kind::kDone);
  CHECK(t.ledger().completed_rows == std::vector<std::uint64_t>{100, 100});
  CHECK(t.ledger().returned_leases == 0);
}

TEST_CASE("leases: a range comes back on leave, on death and on silence, and is trained by another", "[lease]") {
  Clock::time_point now{};
  LeaseTable t = MakeTable(now, 10);  // ranges of 2, 3, 2, 3 rows
  for (std::int64_t pgid : {7, 8, 9}) REQUIRE(t.Join(10, pgid).ok());
  auto r0 = t.Next(0), r1 = t.Next(1), r2 = t.Next(2);
  REQUIRE((r0.ok() && r1.ok() && r2.ok()));

  REQUIRE(t.Leave(0, {}).ok());                            // leave: range 0 back
  CHECK(t.LoseGroup(8) == std::vector<std::uint32_t>{1});  // death: range 1 back
  now += std::chrono::seconds(9);
  REQUIRE(t.Renew(2).ok());
  now += std::chrono::seconds(9);
  CHECK(t.Expire().empty());  // renewed 9 s ago: still held
  now += std::chrono::seconds(2);
  CHECK(t.Expire() == std::vector<std::uint32_t>{2});  // silent 11 s: range 2 back
  CHECK(t.active_workers() == 0);
  CHECK(t.ledger().returned_leases == 3);
  CHECK(t.ledger().returned_rows == 2 + 3 + 2);
  CHECK(t.ledger().lost_workers == std::vector<std::uint32_t>{1, 2});

  // The lost worker's late completion is refused; a new worker trains it all.
  CHECK(!t.Complete(2, r2.value().lease.id).ok());
  auto late = t.Join(10, 10);
  REQUIRE(late.ok());
  for (int i = 0; i < 8; ++i) TrainOne(t, late.value());
  CHECK(t.finished());
  CHECK(t.ledger().completed_rows == std::vector<std::uint64_t>{10, 10});
}

TEST_CASE("leases: joins beyond --max-workers, with other data, or after the end are refused", "[lease]") {
  Clock::time_point now{};
  LeaseTable t = MakeTable(now);
  auto other = t.Join(99, 1);
  CHECK(!other.ok());
  CHECK_THAT(other.status().message(), Catch::Contains("99 rows") && Catch::Contains("100"));
  for (int i = 0; i < 3; ++i) REQUIRE(t.Join(100, i).ok());
  auto full = t.Join(100, 5);
  CHECK(!full.ok());
  CHECK_THAT(full.status().message(), Catch::Contains("--max-workers 3"));
  REQUIRE(t.Leave(2, {}).ok());
  CHECK(t.Join(100, 5).ok());  // a place came free
  auto held = t.Next(0);
  REQUIRE(held.ok());
  CHECK(!t.Next(0).ok());  // one lease at a time
  CHECK(!t.Next(42).ok());
}

TEST_CASE("leases: the first worker sets the rows when the launcher did not", "[lease]") {
  Clock::time_point now{};
  LeaseTableOptions o;
  o.ranges = 4;
  LeaseTable t(o, [&now] { return now; });
  CHECK(!t.Join(3, 1).ok());  // fewer rows than ranges
  REQUIRE(t.Join(8, 1).ok());
  CHECK(!t.Join(9, 2).ok());
  CHECK(t.ledger().rows == 8);
}

TEST_CASE("lease messages: every field checked", "[lease]") {
  using asyncps::worker::ParseLeaseMessage;
  const std::vector<std::string> spec{"next worker", "complete worker lease"};
  auto ok = ParseLeaseMessage("complete worker=3 lease=12", spec);
  REQUIRE(ok.ok());
  CHECK(ok.value().fields.at("lease") == 12);
  for (const char* bad : {"complete worker=3", "complete worker=3 lease=1 lease=2", "complete worker=3 lease=-1",
                          "complete worker=3 lease=1 extra=2", "next worker=x", "next", "bogus worker=1",
                          "next worker=99999999999999999999", "next worker=1\ntrailing"})
    CHECK_FALSE(ParseLeaseMessage(bad, spec).ok());
  auto error = ParseLeaseMessage("error the run is full", spec);
  REQUIRE(error.ok());
  CHECK(error.value().body == "the run is full");
}

TEST_CASE("lease service: malformed requests get an error naming the problem", "[lease]") {
  Clock::time_point now{};
  LeaseTable t = MakeTable(now);
  CHECK_THAT(HandleLeaseRequest(t, "hello rows=100", 100), Catch::StartsWith("error") && Catch::Contains("pgid"));
  CHECK_THAT(HandleLeaseRequest(t, "hello rows=100 pgid=4", 100),
             Catch::Equals("welcome epochs=2 renew_ms=100 worker=0"));
  CHECK_THAT(HandleLeaseRequest(t, "next worker=0", 100),
             Catch::Equals("range begin=0 end=25 epoch=1 index=0 lease=1 ranges=4"));
  CHECK_THAT(HandleLeaseRequest(t, "leave worker=0\n{not json", 100),
             Catch::StartsWith("error") && Catch::Contains("report"));
  CHECK_THAT(HandleLeaseRequest(t, "complete worker=0 lease=2", 100), Catch::StartsWith("error"));
  CHECK(HandleLeaseRequest(t, "complete worker=0 lease=1", 100) == "ok");
  CHECK(HandleLeaseRequest(t, "hello rows=100 pgid=5", 100) == "welcome epochs=2 renew_ms=100 worker=1");
  for (int i = 0; i < 3; ++i) {  // worker 1 takes the rest of epoch 1
    CHECK_THAT(HandleLeaseRequest(t, "next worker=1", 100), Catch::StartsWith("range"));
    CHECK(HandleLeaseRequest(t, "complete worker=1 lease=" + std::to_string(i + 2), 100) == "ok");
  }
  CHECK_THAT(HandleLeaseRequest(t, "next worker=0", 100), Catch::StartsWith("range") && Catch::Contains("epoch=2"));
  CHECK(HandleLeaseRequest(t, "leave worker=0\n{}", 100) != "ok");  // not a worker report's JSON
}

TEST_CASE("lease service and client: a worker joins, trains every range and leaves over ZeroMQ", "[lease]") {
  LeaseTableOptions o;
  o.ranges = 3;
  o.epochs = 2;
  o.max_workers = 2;
  auto service = LeaseService::Start(o, "127.0.0.1:0");
  REQUIRE(service.ok());
  auto client = asyncps::worker::LeaseClient::Join(service.value()->endpoint(), 9, std::chrono::seconds(5));
  REQUIRE(client.ok());
  std::uint64_t rows = 0;
  for (;;) {
    auto next = client.value()->Next();
    REQUIRE(next.ok());
    if (next.value().kind == asyncps::worker::LeasedRange::Kind::kDone) break;
    REQUIRE(next.value().kind == asyncps::worker::LeasedRange::Kind::kRange);
    rows += next.value().end - next.value().begin;
    REQUIRE(client.value()->Complete(next.value().lease).ok());
  }
  CHECK(rows == 18);
  asyncps::worker::WorkerReport report;
  report.worker_index = client.value()->worker();
  report.samples = 18;
  REQUIRE(client.value()->Leave(report).ok());
  service.value()->With([](LeaseTable& t) {
    CHECK(t.finished());
    REQUIRE(t.ledger().reports.size() == 1);
    CHECK(t.ledger().reports.front().samples == 18);
  });
  // A second join after the end is refused with the service's reason.
  auto late = asyncps::worker::LeaseClient::Join(service.value()->endpoint(), 9, std::chrono::seconds(5));
  REQUIRE(!late.ok());
  CHECK_THAT(late.status().message(), Catch::Contains("complete"));
}
