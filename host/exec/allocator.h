// How the process's heap treats the large, short-lived buffers of tensor work.
#pragma once

namespace sf::host {

// glibc serves allocations above its mmap threshold (at most 32 MB when it adapts it) with fresh
// mappings and returns freed heap tops to the system, so a loop that allocates and frees the same
// tens of megabytes per chunk page-faults every page every time. Measured on the 64-D
// score-optimal estimate (512 levels x 4096 particles, one thread): 1.2 M page faults and 2.15 s of
// system time in a 6.0 s run; with freed memory kept for reuse, 83 k and 0.25 s (3.9 s).
// Raises the mmap and trim thresholds to 1 GiB; call once at start-up, before threads start.
void keep_freed_memory_for_reuse();

// Returns free heap memory to the system (malloc_trim); for long-running processes between jobs.
void release_freed_memory();

}  // namespace sf::host
