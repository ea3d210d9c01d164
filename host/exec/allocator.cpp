#include "exec/allocator.h"

#include <malloc.h>

namespace sf::host {

void keep_freed_memory_for_reuse() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

void release_freed_memory() { malloc_trim(0); }

}  // namespace sf::host
