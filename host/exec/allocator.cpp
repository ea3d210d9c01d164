#include "exec/allocator.h"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace sf::host {

void keep_freed_memory_for_reuse() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

void reserve_heap_in_huge_pages(size_t bytes) {
  constexpr size_t kHugePage = size_t{2} << 20;
  constexpr size_t kMaxReserved = (size_t{1} << 30) - kHugePage;  // under M_MMAP_THRESHOLD
  bytes = std::min(bytes, kMaxReserved);
  void* block = std::malloc(bytes);
  if (!block) return;
  const auto begin = (reinterpret_cast<uintptr_t>(block) + kHugePage - 1) & ~(kHugePage - 1);
  const auto end = (reinterpret_cast<uintptr_t>(block) + bytes) & ~(kHugePage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  std::free(block);
}

void release_freed_memory() { malloc_trim(0); }

}  // namespace sf::host
