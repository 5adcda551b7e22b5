#include "pooler/pg/batch_walk.h"

#include <string>

namespace shardpool::pooler {

namespace pg = protocol::pg;

bool BatchWalk::next(Message& m) {
  pg::Frame f = pg::frameMessage(batch_.subspan(off_));
  if (f.status != pg::FrameStatus::Ok) return false;
  m.type = f.type;
  m.body = f.body;
  m.whole = batch_.subspan(off_, f.totalSize);
  m.parse = nullptr;
  m.bind.reset();
  m.statement.reset();
  off_ += f.totalSize;
  if (f.type == 'P') {
    if (auto p = pg::decodeParse(f.body)) {
      if (last_) earlier_.push_back(std::move(*last_));
      last_ = std::move(p);
      m.parse = &*last_;
    }
  } else if (f.type == 'B') {
    m.bind = pg::decodeBind(f.body);
    if (!m.bind) return true;
    if (last_ && last_->name == m.bind->statement) {
      m.statement = Statement{last_->query, &last_->paramTypes};
      return true;
    }
    for (auto it = earlier_.rbegin(); it != earlier_.rend(); ++it)
      if (it->name == m.bind->statement) {
        m.statement = Statement{it->query, &it->paramTypes};
        return true;
      }
    if (m.bind->statement.empty()) return true;
    if (auto it = known_.find(std::string(m.bind->statement)); it != known_.end())
      m.statement = Statement{it->second.query, &it->second.paramTypes};
  }
  return true;
}

}  // namespace shardpool::pooler
