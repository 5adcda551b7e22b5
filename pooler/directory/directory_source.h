// One directory table, read with libpq in non-blocking mode on the control loop (never a
// worker): one connection kept open, LISTEN on the notify channel when there is one, and a
// cheap change check before each full read.
//
// A check runs at start, every refresh_interval and on demand (a reload); a NOTIFY on the
// channel makes the next check a full read. The check is one aggregate over the table,
//   SELECT count(*), sum(hashtext(ctid::text || xmin::text)) FROM <table>
// whose value changes with every committed INSERT, UPDATE or DELETE (each makes or removes a
// row version, and each row version has its own (ctid, xmin)); the server scans the table but
// sends one row. When it equals the value taken before the last read, nothing is read. It is
// taken before the rows are read, so a change made in between makes the next check read again
// (never the other way round). A table without ctid/xmin (a view) is read in full each time.
//
// The rows come in single-row mode as they arrive (a few at a time per loop turn, so a million
// rows never stall the loop) and go to `Hooks::loaded` as entries; building the map is the
// owner's business, which answers with built(). A failed connect or query closes the
// connection and retries with backoff (1 s doubling to 30 s); a row that is not a valid entry
// fails the read (and the same table is not read again until it changes).
#pragma once

#include <libpq-fe.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "config/sharding.h"
#include "pooler/directory/directory_rows.h"

namespace shardpool::pooler {

class DirectorySource {
 public:
  struct Hooks {
    // The table's rows, read in full: build and publish, then call built().
    std::function<void(std::vector<config::DirectoryEntry> rows)> loaded;
    // A connect, query or row failed; the previous map stays.
    std::function<void(const std::string& error)> failed;
    // A check found the table as it was when the published map was read.
    std::function<void()> unchanged;
  };

  DirectorySource(uv_loop_t* loop, std::string database, config::DirectorySource source,
                  std::vector<std::string> shardNames, Hooks hooks);
  ~DirectorySource();
  DirectorySource(const DirectorySource&) = delete;
  DirectorySource& operator=(const DirectorySource&) = delete;

  // Reads the table in full as soon as possible (start, reload, NOTIFY).
  void reload();
  // After `loaded`: whether the rows made a map, else why not. Rows that did not make one are
  // not read again until the table changes (or reload()).
  void built(bool ok, const std::string& error = {});
  void stop();  // closes the connection and the handles; the loop must run once more

  const config::DirectorySource& source() const { return source_; }

 private:
  // The connection's state; a map being built from the last read is `building_`.
  enum class State { Disconnected, Connecting, Listening, Idle, Checking, Loading };

  static void onPoll(uv_poll_t* p, int status, int events);
  static void onTimeout(uv_timer_t* t);
  static void onSchedule(uv_timer_t* t);

  void begin();
  void startCheck();
  void startLoad();
  void settled();
  void connect();
  void step(int events);
  void watch(int events);
  bool send(const std::string& sql, bool singleRow);
  void readResults();
  void handleResult(PGresult* r);
  void finishQuery();
  void drainNotifications();
  void fail(const std::string& why);
  void disconnect();
  void schedule(std::chrono::milliseconds after);
  void armTimeout(std::chrono::milliseconds after);
  uv_timer_t* newTimer();

  uv_loop_t* loop_;
  std::string database_;
  config::DirectorySource source_;
  DirectoryRowReader reader_;
  Hooks hooks_;
  State state_ = State::Disconnected;
  PGconn* conn_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  int pollFd_ = -1;
  uv_timer_t* timeout_ = nullptr;   // the running connect or query
  uv_timer_t* schedule_ = nullptr;  // the next check or retry
  bool stopped_ = false;

  bool forced_ = true;        // the next check reads the table whatever its fingerprint
  bool pending_ = false;      // a check was asked for while one ran: another one follows
  bool building_ = false;     // between `loaded` and built()
  bool fingerprints_ = true;  // false: the table has no ctid/xmin (a view)
  std::string loadedPrint_;   // the fingerprint taken before the rows last published
  std::string refusedPrint_;  // ... before rows that did not make a map
  std::string readingPrint_;  // ... before the rows being read now
  std::string refusedError_;  // why those rows made no map
  std::chrono::milliseconds backoff_{0};

  // The running full read.
  std::vector<config::DirectoryEntry> rows_;
  bool columnsChecked_ = false;
  std::string queryError_;
  size_t badRows_ = 0;
  std::vector<std::string> badRowMessages_;
};

}  // namespace shardpool::pooler
