// Stable hashes for fingerprints and cache keys (64-bit FNV-1a; not cryptographic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sf::diffusion {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ULL);
inline uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ULL) {
  return fnv1a(s.data(), s.size(), h);
}
// 16 lower-case hex digits.
std::string hex64(uint64_t v);

}  // namespace sf::diffusion
