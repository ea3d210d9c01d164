#include "device.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <cstdio>
#include <stdexcept>

namespace sf::nodes {

c10::Device resolve_device(const std::string& text, c10::Device fallback) {
  if (text.empty() || text == "default" || text == "auto") return fallback;
  if (text == "cpu") return c10::Device(c10::kCPU);
  if (text.rfind("cuda", 0) == 0) {
    int index = 0;
    if (text.size() > 4) {
      if (text[4] != ':' || text.size() == 5 || text.find_first_not_of("0123456789", 5) != std::string::npos)
        throw std::invalid_argument("device '" + text + "' is not one of default, cpu, cuda, cuda:N");
      index = std::stoi(text.substr(5));
    }
    int count = at::detail::getCUDAHooks().getNumGPUs();
    if (index >= count)
      throw std::invalid_argument("device '" + text + "' does not exist on this machine (" + std::to_string(count) +
                                  " CUDA device(s) visible)");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("device '" + text + "' is not one of default, cpu, cuda, cuda:N");
}

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace sf::nodes
