// File helpers every node that writes files should use: outputs already written stay whole.
#pragma once

#include <string>

#include "sigmaflow/status.h"

namespace sf {

// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
// Creates missing parent folders. Readers never see a half-written file.
Status write_file_atomic(const std::string& path, const std::string& bytes);

// The per-user cache folder: $SIGMAFLOW_CACHE_DIR, else $XDG_CACHE_HOME/sigmaflow, else
// ~/.cache/sigmaflow (else /tmp/sigmaflow-cache). Not created here.
std::string user_cache_dir();

}  // namespace sf
