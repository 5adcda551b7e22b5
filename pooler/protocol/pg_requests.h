// The requests a client has sent down one server connection and not yet seen answered, in
// order. The server answers frontend messages strictly in order, so each reply can be matched to
// the request it completes; that tells the pooler when a server is idle (nothing outstanding),
// which replies belong to messages it injected (to drop them), and where to slot replies it
// synthesizes for messages it did not forward. Pure bookkeeping: no I/O.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>
#include <string>

namespace shardpool::protocol::pg {

// What happens to the reply that completes a request.
enum class Fate : uint8_t {
  Forward,     // pass it to the client
  Swallow,     // the pooler injected the request: drop the reply
  Synthesize,  // not sent to the server: the pooler emits the reply when it is due
  RenameError, // a Parse re-sent to provoke "already exists": rename the statement in the error
  Capture,     // a Query of the pooler's own whose rows it reads: no reply reaches the client
  Apply,       // a Query of the pooler's own bringing the server's settings in line with the
               // client's, sent ahead of the client's messages: no reply reaches the client
};

// A request the pooler sent for itself, whose replies the client never sees.
inline bool ownQuery(Fate f) { return f == Fate::Capture || f == Fate::Apply; }

// A FIFO over a ring of slots that keeps its capacity: pushing and popping one request per
// query allocates nothing once the ring has grown to the pipeline's depth (std::deque allocates
// and frees a block every few requests).
template <class T>
class Ring {
 public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  void push_back(T&& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(v);
    ++count_;
  }
  void pop_front() {
    slots_[head_] = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }
  void clear() {
    while (count_ > 0) pop_front();
    head_ = 0;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;  // a power of two in size
  size_t head_ = 0;
  size_t count_ = 0;
};

struct Request {
  char type = 0;  // frontend message type: P B D E C S Q F
  Fate fate = Fate::Forward;
  bool describeStatement = false;  // Describe 'S': ParameterDescription precedes the completion
  std::string clientName;          // Parse/Close of a named statement: the client's name
  std::string serverName;          // Parse sent to the server: the server-side name
};

class RequestQueue {
 public:
  void push(Request&& r) {
    if (r.type == 'S') skipping_ = false;
    q_.push_back(std::move(r));
  }
  bool empty() const { return q_.empty(); }
  // An extended-protocol error with no Sync sent after it: the server ignores every message
  // until a Sync arrives (even a simple Query), so it is not idle though nothing is pending.
  bool skippingToSync() const { return skipping_; }
  size_t size() const { return q_.size(); }
  const Request* front() const { return q_.empty() ? nullptr : &q_.front(); }
  void clear() {
    q_.clear();
    skipping_ = false;
  }

  // What the client still waits for: ReadyForQuery count (one per Query, Sync and FunctionCall
  // outstanding), and whether requests follow the last of those (an extended batch whose Sync
  // has not been sent yet).
  struct Pending {
    size_t readies = 0;
    bool openBatch = false;
  };
  Pending pending() const {
    Pending p;
    for (size_t i = 0; i < q_.size(); ++i) {
      const Request& r = q_[i];
      if (ownQuery(r.fate) || r.fate == Fate::Swallow) continue;
      if (r.type == 'S' || r.type == 'Q' || r.type == 'F') {
        ++p.readies;
        p.openBatch = false;
      } else {
        p.openBatch = true;
      }
    }
    return p;
  }

  // True when `reply` is the last message the server sends for request `r` (errors aside).
  static bool completes(const Request& r, char reply) {
    switch (r.type) {
      case 'P': return reply == '1';
      case 'B': return reply == '2';
      case 'C': return reply == '3';
      case 'D': return reply == 'T' || reply == 'n';
      case 'E': return reply == 'C' || reply == 'I' || reply == 's';
      case 'S':
      case 'Q':
      case 'F': return reply == 'Z';
      default: return false;
    }
  }

  // What to do with reply message `type` before its bytes pass.
  Fate replyFate(char type) const {
    const Request* r = front();
    if (!r) return Fate::Forward;
    if (ownQuery(r->fate)) return r->fate;
    if (type == 'E') return r->fate == Fate::RenameError ? Fate::RenameError : Fate::Forward;
    if (completes(*r, type) && r->fate == Fate::Swallow) return Fate::Swallow;
    return Fate::Forward;
  }

  // True when reply `type` changes the queue (completes or fails the front request), so the
  // caller must see the whole message before calling onReply().
  bool matters(char type) const {
    const Request* r = front();
    return r && (type == 'E' || type == 'Z' || completes(*r, type));
  }

  // After reply `type` has passed (or been dropped). Visitor:
  //   void completed(const Request&);   the request finished normally
  //   void dropped(const Request&);     the server failed or skipped it (an error before Sync)
  //   void synthesize(const Request&);  emit its reply now (Fate::Synthesize at the front)
  template <class V>
  void onReply(char type, V& v) {
    if (q_.empty()) return;
    if (type == 'E') {
      char t = q_.front().type;
      if (t == 'S' || t == 'Q' || t == 'F') return;  // completes with ReadyForQuery
      // Extended protocol: the failing request and everything up to the next Sync is skipped.
      while (!q_.empty() && !isSyncPoint(q_.front().type)) {
        v.dropped(q_.front());
        q_.pop_front();
      }
      if (q_.empty()) skipping_ = true;
      return;
    }
    if (type == 'Z') {
      // Normally the front is the Sync/Query; anything before it was skipped.
      while (!q_.empty()) {
        Request r = std::move(q_.front());
        q_.pop_front();
        if (isSyncPoint(r.type)) {
          v.completed(r);
          break;
        }
        v.dropped(r);
      }
    } else if (completes(q_.front(), type)) {
      Request r = std::move(q_.front());
      q_.pop_front();
      v.completed(r);
    } else {
      return;
    }
    drainSynthetic(v);
  }

  // Emits replies for synthetic requests that have reached the front.
  template <class V>
  void drainSynthetic(V& v) {
    while (!q_.empty() && q_.front().fate == Fate::Synthesize) {
      Request r = std::move(q_.front());
      q_.pop_front();
      v.synthesize(r);
    }
  }

  static bool isSyncPoint(char type) { return type == 'S' || type == 'Q' || type == 'F'; }

 private:
  Ring<Request> q_;
  bool skipping_ = false;
};

}  // namespace shardpool::protocol::pg
