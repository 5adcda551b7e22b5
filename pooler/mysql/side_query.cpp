#include "pooler/mysql/side_query.h"

#include <fmt/format.h>

#include <cstring>

#include "pooler/net/connection.h"
#include "pooler/net/host_resolver.h"
#include "pooler/net/log.h"
#include "pooler/net/uv_handle.h"
#include "pooler/protocol/mysql_commands.h"
#include "pooler/protocol/mysql_results.h"
#include "pooler/session/worker.h"

namespace shardpool::pooler {

namespace my = protocol::mysql;

namespace {

class SideConnection final : public Connection {
 public:
  SideConnection(Worker& w, uint64_t id, SideQuery q, MysqlServerLogin login,
                 std::function<void(const SideResult&)> done)
      : Connection(w, id), q_(std::move(q)), login_(std::move(login)), done_(std::move(done)) {}
  ~SideConnection() override {
    resolver_.cancel();
    closeAndDelete(timer_);
  }
  Worker& worker() const { return static_cast<Worker&>(eventLoop()); }

  void begin() {
    timer_ = new uv_timer_t;
    uv_timer_init(worker().loop(), timer_);
    timer_->data = this;
    uv_timer_start(
        timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<SideConnection*>(t->data);
          self->finish(fmt::format("no answer within {} ms", self->q_.timeout.count()));
        },
        static_cast<uint64_t>(q_.timeout.count()), 0);
    if (q_.addr) {
      connect(reinterpret_cast<const sockaddr*>(&*q_.addr));
      return;
    }
    resolver_.resolve(worker().loop(), q_.host, q_.port, this,
                      [](void* owner, const sockaddr* addr, std::string_view error) {
                        auto* self = static_cast<SideConnection*>(owner);
                        if (addr)
                          self->connect(addr);
                        else
                          self->finish(std::string(error));
                      });
  }

  void finish(std::string error, uint16_t code = 0) {
    if (finished_) return;
    finished_ = true;
    result_.ok = error.empty();
    result_.error = std::move(error);
    result_.errorCode = code;
    resolver_.cancel();
    if (timer_) uv_timer_stop(timer_);
    closeHandle();
    worker().retire(this);
    if (done_) done_(result_);
  }

 protected:
  void onConnected(int status) override {
    if (status != 0) {
      finish(fmt::format("could not connect to {}:{}: {}", q_.host, q_.port, uv_strerror(status)));
      return;
    }
    startReading();
  }
  void onData(Chunk* chunk, size_t len) override {
    in_.append(reinterpret_cast<const char*>(chunk->data()), len);
    size_t pos = 0;
    while (!finished_) {
      my::Bytes rest = my::asBytes(std::string_view(in_).substr(pos));
      my::MessageFrame m = my::frameMessage(rest);
      if (m.status == my::FrameStatus::Invalid) return finish("a malformed packet from the server");
      if (m.status != my::FrameStatus::Ok) break;
      std::string payload;
      my::appendPayload(rest.first(m.totalSize), payload);
      pos += m.totalSize;
      onPacket(my::asBytes(payload), m.firstSequenceId);
    }
    if (!finished_) in_.erase(0, pos);
  }
  void onReadEnd(int) override { finish("the server closed the connection"); }
  void onWriteError(int status) override {
    finish(fmt::format("write error: {}", uv_strerror(status)));
  }
  void onTlsReady() override {
    if (login_) send(login_->responseAfterTls());
  }
  void onTlsFailed(const std::string& error) override {
    finish(fmt::format("TLS with the server failed: {}", error));
  }

 private:
  enum class Read : uint8_t { Header, Columns, ColumnsEof, Rows };

  void connect(const sockaddr* addr) {
    if (int rc = connectTo(addr); rc != 0)
      finish(fmt::format("could not connect to {}:{}: {}", q_.host, q_.port, uv_strerror(rc)));
  }

  void done() {
    my::Writer quit;
    my::putQuit(quit);
    send(quit.take());
    finish({});
  }

  void onPacket(my::Bytes payload, uint8_t sequenceId) {
    if (login_) {
      my::Writer w;
      MysqlServerLogin::Status st = login_->onPacket(payload, sequenceId, w);
      if (!w.data().empty()) send(w.take());
      switch (st) {
        case MysqlServerLogin::Status::Continue:
          return;
        case MysqlServerLogin::Status::StartTls:
          if (!q_.tls) return finish("the login asked for TLS without a TLS context");
          startTls(TlsSession::connect(*q_.tls, q_.host, q_.verifyHost));
          return;
        case MysqlServerLogin::Status::Failed:
          return finish(fmt::format("login refused: {}", login_->error()), login_->errorCode());
        case MysqlServerLogin::Status::Done:
          break;
      }
      capabilities_ = login_->capabilities();
      login_.reset();
      my::Writer q;
      my::putQuery(q, q_.sql);
      send(q.take());
      return;
    }
    if (payload.empty()) return finish("an empty packet from the server");
    const uint8_t first = payload[0];
    if (first == 0xFF) {
      std::optional<my::ErrPacket> err = my::decodeErr(payload);
      return finish(err ? fmt::format("ERROR {} ({}): {}", err->code, err->sqlState, err->message)
                        : std::string("a malformed error packet"),
                    err ? err->code : 0);
    }
    switch (read_) {
      case Read::Header: {
        if (first == 0x00) return done();  // OK: no result set
        if (first == 0xFB) return finish("the server asked for a local file");
        std::optional<my::ColumnCount> count = my::decodeColumnCount(payload, capabilities_);
        if (!count || count->count == 0 || count->count > 4096)
          return finish("a malformed result set header");
        columnsLeft_ = count->count;
        read_ = Read::Columns;
        return;
      }
      case Read::Columns:
        if (--columnsLeft_ == 0)
          read_ = (capabilities_ & my::kClientDeprecateEof) ? Read::Rows : Read::ColumnsEof;
        return;
      case Read::ColumnsEof:
        read_ = Read::Rows;
        return;
      case Read::Rows: {
        if (first == 0xFE && payload.size() < 0xFFFFFF) return done();
        if (result_.firstRow) return;
        std::vector<std::optional<std::string_view>> row;
        if (!my::decodeTextRow(payload, row)) return finish("a malformed row");
        result_.firstRow.emplace();
        for (const auto& v : row)
          result_.firstRow->push_back(v ? std::optional<std::string>(std::string(*v))
                                        : std::nullopt);
        return;
      }
    }
  }

  SideQuery q_;
  std::optional<MysqlServerLogin> login_;
  std::function<void(const SideResult&)> done_;
  HostResolver resolver_;
  uv_timer_t* timer_ = nullptr;
  std::string in_;
  my::Capabilities capabilities_ = 0;
  Read read_ = Read::Header;
  uint64_t columnsLeft_ = 0;
  SideResult result_;
  bool finished_ = false;
};

}  // namespace

void runSideQuery(Worker& worker, SideQuery q, MysqlServerLogin login,
                  std::function<void(const SideResult&)> done) {
  // A plain session: no NO_SCHEMA (db.table would lose its db), no LOCAL INFILE, no multiple
  // statements.
  login.limitCapabilities(my::kClientLongPassword | my::kClientLongFlag | my::kClientProtocol41 |
                          my::kClientTransactions | my::kClientSecureConnection |
                          my::kClientPluginAuth | my::kClientMultiResults);
  auto conn = std::make_unique<SideConnection>(worker, worker.nextId(), std::move(q),
                                               std::move(login), std::move(done));
  static_cast<SideConnection*>(worker.adoptOther(std::move(conn)))->begin();
}

}  // namespace shardpool::pooler
