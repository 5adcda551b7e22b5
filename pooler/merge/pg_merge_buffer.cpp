// MergeOptions, status names, and ReplyMerger: the shards' bytes buffered until they are whole
// (pg_merge.h).
#include "pooler/merge/pg_merge.h"

namespace shardpool::protocol::pg {

std::string_view mergeStatusName(MergeStatus status) {
  switch (status) {
    case MergeStatus::Ok:
      return "ok";
    case MergeStatus::ShardError:
      return "shard error";
    case MergeStatus::Refused:
      return "refused";
    case MergeStatus::Mismatch:
      return "mismatch";
    case MergeStatus::Malformed:
      return "malformed";
  }
  return "?";
}

void MergeOptions::noteParameter(std::string_view name, std::string_view value) {
  if (name == "DateStyle") {
    dateStyle = value;
  } else if (name == "client_encoding") {
    clientEncoding = value;
  } else if (name == "server_encoding") {
    serverEncoding = value;
  }
}

// ---- ReplyMerger -------------------------------------------------------------------------------

ReplyMerger::ReplyMerger(std::vector<std::string> shardNames, std::vector<SegmentPlans> segments,
                         MergeOptions options)
    : segments_(std::move(segments)), options_(std::move(options)) {
  shards_.resize(shardNames.size());
  for (size_t i = 0; i < shardNames.size(); ++i) shards_[i].name = std::move(shardNames[i]);
}

void ReplyMerger::feed(size_t shard, Bytes data) {
  if (shard >= shards_.size() || shards_[shard].bad) return;
  Shard& s = shards_[shard];
  s.bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  buffered_ += data.size();
  for (;;) {
    Bytes rest(reinterpret_cast<const uint8_t*>(s.bytes.data()) + s.framed,
               s.bytes.size() - s.framed);
    Frame f = frameMessage(rest);
    if (f.status == FrameStatus::Invalid) {
      s.bad = true;
      return;
    }
    if (f.status != FrameStatus::Ok) return;
    if (f.type == 'Z') ++s.readies;
    s.framed += f.totalSize;
  }
}

size_t ReplyMerger::readyCount(size_t shard) const {
  return shard < shards_.size() ? shards_[shard].readies : 0;
}

bool ReplyMerger::malformed(size_t shard) const {
  return shard < shards_.size() && shards_[shard].bad;
}

MergeResult ReplyMerger::finish() const {
  std::vector<ShardReply> replies;
  replies.reserve(shards_.size());
  for (const Shard& s : shards_) {
    replies.push_back(ShardReply{
        s.name, Bytes(reinterpret_cast<const uint8_t*>(s.bytes.data()), s.bytes.size())});
  }
  return mergeReplies(replies, segments_, options_);
}

}  // namespace shardpool::protocol::pg
