#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pooler/protocol/pg_requests.h"

using namespace shardpool::protocol::pg;

namespace {
struct Log {
  std::vector<std::string> events;
  void completed(const Request& r) { events.push_back(std::string("done ") + r.type); }
  void dropped(const Request& r) { events.push_back(std::string("drop ") + r.type); }
  void synthesize(const Request& r) { events.push_back(std::string("synth ") + r.type); }
};

RequestQueue queueOf(const std::string& types) {
  RequestQueue q;
  for (char t : types) q.push({t});
  return q;
}
}  // namespace

TEST_CASE("request queue: replies complete requests in order", "[protocol][requests]") {
  RequestQueue q = queueOf("PBDES");
  Log log;
  for (char reply : std::string("12tTDDCZ")) {
    q.onReply(reply, log);
  }
  CHECK(q.empty());
  CHECK(log.events == std::vector<std::string>{"done P", "done B", "done D", "done E", "done S"});
}

TEST_CASE("request queue: an error skips to the Sync", "[protocol][requests]") {
  RequestQueue q = queueOf("PBESPBES");
  Log log;
  q.onReply('1', log);
  q.onReply('E', log);  // Bind failed: B and E skipped
  CHECK(q.size() == 5);
  q.onReply('Z', log);
  q.onReply('1', log);
  q.onReply('2', log);
  q.onReply('C', log);
  q.onReply('Z', log);
  CHECK(q.empty());
  CHECK(log.events == std::vector<std::string>{"done P", "drop B", "drop E", "done S", "done P",
                                               "done B", "done E", "done S"});
}

TEST_CASE("request queue: errors inside a simple query or at Sync complete at ReadyForQuery",
          "[protocol][requests]") {
  RequestQueue q = queueOf("QS");
  Log log;
  q.onReply('E', log);
  CHECK(q.size() == 2);
  q.onReply('Z', log);
  q.onReply('E', log);  // e.g. a deferred constraint failing at the implicit commit
  CHECK(q.size() == 1);
  q.onReply('Z', log);
  CHECK(q.empty());
  CHECK(log.events == std::vector<std::string>{"done Q", "done S"});
}

TEST_CASE("request queue: swallowed and synthesized replies", "[protocol][requests]") {
  RequestQueue q;
  Log log;
  q.push({'P', Fate::Swallow});  // injected Parse
  q.push({'B'});
  q.push({'P', Fate::Synthesize});
  q.push({'E'});
  q.push({'C', Fate::Synthesize});
  q.push({'S'});
  CHECK(q.replyFate('1') == Fate::Swallow);
  CHECK(q.replyFate('2') == Fate::Forward);
  q.onReply('1', log);
  CHECK(q.replyFate('2') == Fate::Forward);
  q.onReply('2', log);  // completes B, then the synthetic Parse is due
  CHECK(log.events.back() == "synth P");
  CHECK(q.matters('D') == false);
  CHECK(q.matters('C') == true);
  q.onReply('C', log);  // completes E, then the synthetic Close
  CHECK(log.events.back() == "synth C");
  q.onReply('Z', log);
  CHECK(q.empty());
}

TEST_CASE("request queue: synthetic requests at the front are drained on push",
          "[protocol][requests]") {
  RequestQueue q;
  Log log;
  q.push({'P', Fate::Synthesize});
  q.drainSynthetic(log);
  CHECK(q.empty());
  CHECK(log.events == std::vector<std::string>{"synth P"});
}

TEST_CASE("request queue: a renamed Parse error is flagged", "[protocol][requests]") {
  RequestQueue q;
  q.push({'P', Fate::RenameError, false, "stmt1", "sp_0123"});
  q.push({'S'});
  CHECK(q.replyFate('E') == Fate::RenameError);
  Log log;
  q.onReply('E', log);
  CHECK(q.replyFate('E') == Fate::Forward);
  q.onReply('Z', log);
  CHECK(q.empty());
}

TEST_CASE("request queue: async messages and row data complete nothing", "[protocol][requests]") {
  RequestQueue q = queueOf("Q");
  Log log;
  for (char reply : std::string("NASTDDDCTDC")) q.onReply(reply, log);
  CHECK(q.size() == 1);
  q.onReply('Z', log);
  CHECK(q.empty());
}

TEST_CASE("request queue: an error before any Sync leaves the server skipping to one",
          "[protocol][requests]") {
  RequestQueue q = queueOf("PD");  // Parse, Describe, Flush: no Sync yet
  Log log;
  q.onReply('E', log);
  CHECK(q.empty());
  CHECK(q.skippingToSync());  // the server ignores everything until a Sync
  q.push({'Q'});              // even a simple Query
  CHECK(q.skippingToSync());
  q.push({'S'});
  CHECK_FALSE(q.skippingToSync());
  // With a Sync already queued behind the failure, the server is not left skipping.
  RequestQueue r = queueOf("PBES");
  r.onReply('E', log);
  CHECK_FALSE(r.skippingToSync());
}
