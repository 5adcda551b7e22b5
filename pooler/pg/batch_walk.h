// One walk over the extended-protocol messages a client has sent and shardpool holds (Parse,
// Bind, Describe, Execute, Close, Sync, ...), message by message. Routing, scatter/gather and
// the answers shardpool gives itself read a batch through it instead of framing it by hand.
// For each Bind it names the statement bound, as the server will: the batch's own latest Parse
// of that name, else a statement the client prepared before (the unnamed statement only from
// the batch). Pure: bytes in, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "pooler/pg/client_statement.h"
#include "pooler/protocol/pg_codec.h"
#include "pooler/protocol/pg_extended.h"

namespace shardpool::pooler {

class BatchWalk {
 public:
  // A statement as the router reads it.
  struct Statement {
    std::string_view query;
    const std::vector<uint32_t>* types = nullptr;  // the parameter types its Parse declared
  };
  // One whole message. Views into the bytes walked (valid while they are) and, for `parse`
  // and `statement->types`, into the walk (valid until the next message).
  struct Message {
    char type = 0;
    protocol::pg::Bytes body;                       // after the length field
    protocol::pg::Bytes whole;                      // as sent, header included
    const protocol::pg::ParseMsg* parse = nullptr;  // 'P' that decodes
    std::optional<protocol::pg::BindMsg> bind;      // 'B' that decodes
    std::optional<Statement> statement;             // 'B': the statement it binds, if known
  };

  // `known`: the client's statements before the batch; not changed by the walk.
  BatchWalk(protocol::pg::Bytes batch, const ClientStatements& known)
      : batch_(batch), known_(known) {}

  // The next message into `m`; false where the bytes end or the next message is not whole
  // (or its length is invalid).
  bool next(Message& m);
  size_t offset() const { return off_; }  // the end of the last message walked
  bool atEnd() const { return off_ == batch_.size(); }

 private:
  protocol::pg::Bytes batch_;
  const ClientStatements& known_;
  size_t off_ = 0;
  // The batch's Parses so far: the last one, and those before it (a batch of one Parse, as most
  // are, allocates nothing here).
  std::optional<protocol::pg::ParseMsg> last_;
  std::vector<protocol::pg::ParseMsg> earlier_;
};

}  // namespace shardpool::pooler
