#include "sigmaflow/diffusion/memory.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sf::diffusion {

uint64_t available_memory_bytes() {
  if (const char* env = std::getenv("SIGMAFLOW_MEMORY_LIMIT"); env && *env) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (end && *end == '\0') return v;
  }
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (f >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  return 0;
}

bool checked_bytes(const std::vector<int64_t>& shape, uint64_t element_size, uint64_t& bytes) {
  // LibTorch computes strides and sizes in int64 even for an empty tensor, so the product of
  // the non-zero dimensions must fit too (a [0, 2^40, 2^40] shape holds nothing but is invalid).
  unsigned __int128 total = element_size, nonzero = element_size;
  for (int64_t d : shape) {
    if (d < 0) return false;
    total *= static_cast<uint64_t>(d);
    if (d > 0) nonzero *= static_cast<uint64_t>(d);
    if (nonzero > static_cast<unsigned __int128>(INT64_MAX)) return false;
  }
  bytes = static_cast<uint64_t>(total);
  return true;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 6) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

Status check_allocation(uint64_t bytes, const std::string& what, double copies) {
  uint64_t avail = available_memory_bytes();
  if (avail == 0) return Status::Ok();
  double need = static_cast<double>(bytes) * copies;
  if (need <= static_cast<double>(avail)) return Status::Ok();
  const uint64_t n = need >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(need);
  std::ostringstream os;
  os << what << " needs " << human_bytes(n) << " (" << n << " bytes), " << human_bytes(avail) << " are available";
  return ResourceExhausted(os.str());
}

}  // namespace sf::diffusion
