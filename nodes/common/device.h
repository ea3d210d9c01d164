// Device selection for model nodes.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace sf::nodes {

// "default"/"auto" -> `fallback` (the host's --device); "cpu"; "cuda"/"cuda:N". Throws
// std::invalid_argument naming the device when it does not exist on this machine.
c10::Device resolve_device(const std::string& text, c10::Device fallback);

// 64-bit FNV-1a, for fingerprints.
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ULL);
std::string hex64(uint64_t v);

}  // namespace sf::nodes
