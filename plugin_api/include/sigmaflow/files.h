// File helpers for every node that reads or writes files: outputs already written stay whole,
// interrupted writes leave nothing behind, and reads are bounded.
#pragma once

#include <cstdint>
#include <string>

#include "sigmaflow/status.h"

namespace sf {

// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
// Creates missing parent folders. Readers never see a half-written file. While the write is in
// flight its temporary file is registered, so remove_inflight_temp_files() can delete it.
Status write_file_atomic(const std::string& path, const std::string& bytes);

// Deletes the temporary files (and output-counter reservations) in `folder` that processes which
// no longer exist left behind (a SIGKILL mid-write). Not recursive; errors are ignored.
void remove_stale_temp_files(const std::string& folder) noexcept;

// Deletes the temporary files of writes still in flight. Async-signal-safe: the host's SIGINT /
// SIGTERM handler calls it before exiting.
void remove_inflight_temp_files() noexcept;
// True while some write_file_atomic is in flight. Async-signal-safe.
bool temp_files_in_flight() noexcept;

// Size limits for reads of user-named files (docs/limits.md gives the reasons).
inline constexpr uint64_t kMaxGraphFileBytes = uint64_t{256} << 20;  // graph JSON (a 10^6-node chain is ~70 MB)
inline constexpr uint64_t kMaxDataFileBytes = uint64_t{8} << 30;    // .npy, IDX, TorchScript
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{16} << 20;   // sigma lists

// Reads a whole regular file. Refuses (naming `path`) a missing file, a folder, a device or FIFO
// (/dev/zero, a pipe), and a file larger than `max_bytes`.
Result<std::string> read_file_bounded(const std::string& path, uint64_t max_bytes);
// Checks the same conditions without reading; returns the size.
Result<uint64_t> check_readable_file(const std::string& path, uint64_t max_bytes);

// The per-user cache folder: $SIGMAFLOW_CACHE_DIR, else $XDG_CACHE_HOME/sigmaflow, else
// $HOME/.cache/sigmaflow, else the account's home folder's, else a private /tmp/sigmaflow-cache-<uid>
// (mode 0700, owned by this user; "" when that cannot be had: no cache). Not created here except
// that last one.
std::string user_cache_dir();

}  // namespace sf
