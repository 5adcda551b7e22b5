// SHOW commands of the admin console: each builds one table from the proxy's state and, where
// it needs connection rows, a snapshot. Column names and meanings follow PgBouncer's; columns
// PgBouncer does not have come after its own.
#pragma once

#include "pooler/admin/control_plane.h"

#include <optional>
#include <string_view>

#include "pooler/admin/result_set.h"
#include "pooler/admin/snapshot.h"

namespace shardpool::pooler::admin {

// Whether SHOW `what` (upper case) needs a connection snapshot first.
bool showNeedsSnapshot(std::string_view what);
// The table for SHOW `what`; nullopt for an unknown name (`error` says which exist).
std::optional<ResultSet> show(std::string_view what, ControlPlane& control, const Snapshot* snapshot,
                              std::string& error);

}  // namespace shardpool::pooler::admin
