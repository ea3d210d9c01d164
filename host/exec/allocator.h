// How the process's heap treats the large, short-lived buffers of tensor work.
#pragma once

#include <cstddef>

namespace sf::host {

// glibc serves allocations above its mmap threshold (at most 32 MB when it adapts it) with fresh
// mappings and returns freed heap tops to the system, so a loop that allocates and frees the same
// tens of megabytes per chunk page-faults every page every time. Measured on the 64-D
// score-optimal estimate (512 levels x 4096 particles, one thread): 1.2 M page faults and 2.15 s of
// system time in a 6.0 s run; with freed memory kept for reuse, 83 k and 0.25 s (3.9 s).
// Raises the mmap and trim thresholds to 1 GiB; call once at start-up, before threads start.
void keep_freed_memory_for_reuse();

// Transparent huge pages for the next `bytes` of heap growth: grows the heap by that much (an
// allocation freed at once, kept by keep_freed_memory_for_reuse's trim threshold; address space,
// not memory, until written) and advises huge pages for it (MADV_HUGEPAGE: the kernel's default
// THP mode, "madvise", uses them only where asked). For work that fills hundreds of megabytes with
// small allocations: a 10^6-node graph took 112,000 page faults and 0.7-0.9 s of system time to
// read, validate and plan, and with huge pages about 800 faults and 1.0 s in all instead of 2.3.
// Capped below the mmap threshold (a larger request would be a mapping of its own, returned on
// free). Call after keep_freed_memory_for_reuse, before threads start; no effect where the kernel
// has no THP.
void reserve_heap_in_huge_pages(size_t bytes);

// Returns free heap memory to the system (malloc_trim); for long-running processes between jobs.
void release_freed_memory();

}  // namespace sf::host
