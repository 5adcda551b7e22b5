#include "pooler/directory/directory_loader.h"

#include <fmt/format.h>

#include <chrono>

#include "pooler/net/log.h"

namespace shardpool::pooler {

namespace {

using SteadyClock = std::chrono::steady_clock;

bool sameEntries(const std::vector<config::DirectoryEntry>& a,
                 const std::vector<config::DirectoryEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto &x = a[i], &y = b[i];
    if (x.kind != y.kind || x.from != y.from || x.to != y.to || x.text != y.text ||
        x.shard != y.shard)
      return false;
  }
  return true;
}

bool sameSource(const std::optional<config::DirectorySource>& a,
                const std::optional<config::DirectorySource>& b) {
  if (!a || !b) return !a && !b;
  return a->conninfo == b->conninfo && a->table == b->table &&
         a->refreshInterval == b->refreshInterval && a->notifyChannel == b->notifyChannel;
}

}  // namespace

// One build on the thread pool. Owned by the loader's jobs_ until it finishes; when the loader
// goes first, `owner` is null and the job deletes itself.
struct DirectoryLoader::BuildJob {
  uv_work_t req{};
  DirectoryLoader* owner = nullptr;
  std::string database;
  uint64_t databaseId = 0;
  std::vector<config::DirectoryEntry> fileEntries;
  std::vector<config::DirectoryEntry> rows;
  router::DirectoryMap::Options options;
  router::DirectoryBuildResult result;
  SteadyClock::duration took{};
};

bool DirectoryLoader::Spec::operator==(const Spec& other) const {
  return shardNames == other.shardNames && defaultShard == other.defaultShard &&
         sameEntries(fileEntries, other.fileEntries) && sameSource(source, other.source);
}

DirectoryLoader::DirectoryLoader(uv_loop_t* loop, DirectoryRegistry& registry)
    : loop_(loop), registry_(registry) {}

DirectoryLoader::~DirectoryLoader() {
  stop();
}

void DirectoryLoader::stop() {
  stopped_ = true;
  for (BuildJob* job : jobs_) {
    job->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&job->req));  // fails (harmlessly) once running
  }
  jobs_.clear();
  databases_.clear();  // each source closes its connection
}

DirectoryLoader::Spec DirectoryLoader::specOf(const config::Database& db) {
  Spec spec;
  for (const config::Shard& s : db.shards) spec.shardNames.push_back(s.name);
  spec.defaultShard = db.directory->defaultShard ? db.directory->defaultShard : db.defaultShard;
  spec.fileEntries = db.directory->entries;
  spec.source = db.directory->source;
  return spec;
}

router::DirectoryMap::Options DirectoryLoader::optionsOf(const Spec& spec) {
  router::DirectoryMap::Options o;
  o.shardCount = static_cast<uint32_t>(spec.shardNames.size());
  o.defaultShard = spec.defaultShard;
  o.shardNames = spec.shardNames;
  if (spec.source) o.tableName = spec.source->table;
  return o;
}

void DirectoryLoader::configure(const config::Config& cfg) {
  if (stopped_) return;
  std::set<std::string, std::less<>> keep;
  std::map<std::string, std::unique_ptr<Database>> next;
  for (const auto& [name, db] : cfg.databases) {
    if (name == "*" || db.shardingFunction != config::ShardingFunction::Directory || !db.directory)
      continue;
    keep.insert(name);
    Spec spec = specOf(db);
    auto old = databases_.find(name);
    if (old != databases_.end() && old->second->spec == spec) {
      std::unique_ptr<Database> kept = std::move(old->second);
      if (kept->source) kept->source->reload();  // a reload reads the table again
      next[name] = std::move(kept);
      continue;
    }
    auto fresh = std::make_unique<Database>();
    fresh->name = name;
    fresh->id = nextId_++;
    fresh->spec = std::move(spec);
    // A map of the old configuration keeps serving until the new one is read, unless it
    // names a shard that is gone.
    auto published = registry_.get(name);
    if (published && published->maxShard() >= fresh->spec.shardNames.size())
      registry_.withdraw(name);
    if (fresh->spec.source)
      startSource(*fresh);
    else
      publishFileOnly(*fresh);
    next[name] = std::move(fresh);
  }
  databases_ = std::move(next);  // the sources of removed or changed databases close here
  registry_.retain(keep);
}

void DirectoryLoader::publishFileOnly(const Database& db) {
  registry_.declare(db.name, "file");
  auto built = router::DirectoryMap::build(db.spec.fileEntries, {}, optionsOf(db.spec));
  if (!built.ok()) {  // the configuration's checks make this unlikely
    reportError(db.name, built.error);
    return;
  }
  registry_.publish(db.name, std::shared_ptr<const router::DirectoryMap>(std::move(built.map)));
}

void DirectoryLoader::startSource(Database& db) {
  registry_.declare(db.name, db.spec.source->table);
  DirectorySource::Hooks hooks;
  Database* d = &db;  // owns the source: outlives every hook call
  hooks.loaded = [this, d](std::vector<config::DirectoryEntry> rows) {
    startBuild(*d, std::move(rows));
  };
  hooks.failed = [this, d](const std::string& error) { reportError(d->name, error); };
  hooks.unchanged = [this, d] {
    if (registry_.setError(d->name, ""))
      log::info("", "directory of database {}: table {} is readable again; the map is current",
                d->name, d->spec.source->table);
  };
  db.source = std::make_unique<DirectorySource>(loop_, db.name, *db.spec.source, db.spec.shardNames,
                                                std::move(hooks));
  db.source->reload();
}

void DirectoryLoader::startBuild(Database& db, std::vector<config::DirectoryEntry> rows) {
  auto* job = new BuildJob;
  job->req.data = job;
  job->owner = this;
  job->database = db.name;
  job->databaseId = db.id;
  job->fileEntries = db.spec.fileEntries;
  job->rows = std::move(rows);
  job->options = optionsOf(db.spec);
  if (uv_queue_work(loop_, &job->req, onWork, onBuilt) != 0) {
    // No thread pool: build here (slower for the loop, but correct).
    onWork(&job->req);
    jobs_.insert(job);
    onBuilt(&job->req, 0);
    return;
  }
  jobs_.insert(job);
}

void DirectoryLoader::onWork(uv_work_t* req) {
  auto* job = static_cast<BuildJob*>(req->data);
  auto start = SteadyClock::now();
  job->result = router::DirectoryMap::build(job->fileEntries, job->rows, job->options);
  job->rows = {};  // free them here, not on the loop
  job->took = SteadyClock::now() - start;
}

void DirectoryLoader::onBuilt(uv_work_t* req, int status) {
  auto* job = static_cast<BuildJob*>(req->data);
  if (job->owner && status == 0) {
    job->owner->jobs_.erase(job);
    job->owner->finishBuild(*job);
  } else if (job->owner) {
    job->owner->jobs_.erase(job);
  }
  delete job;
}

void DirectoryLoader::finishBuild(BuildJob& job) {
  auto it = databases_.find(job.database);
  if (it == databases_.end() || it->second->id != job.databaseId) return;  // superseded
  Database& db = *it->second;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(job.took).count();
  if (!job.result.ok()) {
    reportError(db.name, job.result.error);
    db.source->built(false, job.result.error);
    return;
  }
  const router::DirectoryMap& map = *job.result.map;
  log::info("",
            "directory of database {}: loaded {} entries ({} from table {}, {} range(s), {} "
            "text key(s)) in {} ms",
            db.name, map.entries(), map.tableRows(), db.spec.source->table, map.ranges(),
            map.textKeys(), ms);
  registry_.publish(db.name,
                    std::shared_ptr<const router::DirectoryMap>(std::move(job.result.map)));
  db.source->built(true);
}

void DirectoryLoader::reportError(const std::string& db, const std::string& error) {
  if (!registry_.setError(db, error)) return;  // logged when it last changed
  log::error("", "directory of database {}: {}; {}", db, error,
             registry_.get(db) ? "the last good map stays in use"
                               : "no map yet: its keys cannot be routed");
}

}  // namespace shardpool::pooler
