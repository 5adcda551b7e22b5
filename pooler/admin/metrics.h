// The Prometheus text exposition (format 0.0.4) of shardpool's state: per-pool client and server
// counts by state, wait time, transaction and query counts and times, bytes in and out, server
// connects, client errors by reason, reloads.
#pragma once

#include "pooler/admin/control_plane.h"

#include <string>

#include "pooler/admin/snapshot.h"

namespace shardpool::pooler::admin {

// `snapshot` may be null (a worker did not answer in time): the per-state gauges are left out
// and shardpool_scrape_complete says 0.
std::string renderMetrics(ControlPlane& control, const Snapshot* snapshot);

// A label value with \, " and newline escaped.
std::string escapeLabel(std::string_view value);

}  // namespace shardpool::pooler::admin
