// PostgreSQL as an engine of the session core: its client sessions and server links.
#pragma once

#include <memory>

#include "pooler/session/engine.h"

namespace shardpool::pooler {

std::unique_ptr<Engine> makePgEngine();

}  // namespace shardpool::pooler
