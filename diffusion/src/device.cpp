#include "sigmaflow/diffusion/device.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <stdexcept>

#include "sigmaflow/status.h"

namespace sf::diffusion {

c10::Device resolve_device(const std::string& text, c10::Device fallback) {
  if (text.empty() || text == "default" || text == "auto") return fallback;
  if (text == "cpu") return c10::Device(c10::kCPU);
  if (text.rfind("cuda", 0) == 0) {
    int index = 0;
    if (text.size() > 4) {
      if (text[4] != ':' || text.size() == 5 || text.size() > 8 ||
          text.find_first_not_of("0123456789", 5) != std::string::npos)
        throw InputError("device", "\"" + text + "\"",
                         "device '" + text + "' is not one of default, cpu, cuda, cuda:N");
      index = std::stoi(text.substr(5));
    }
    int count = at::detail::getCUDAHooks().getNumGPUs();
    if (index >= count)
      throw InputError("device", "\"" + text + "\"",
                       "device '" + text + "' does not exist on this machine (" + std::to_string(count) +
                           " CUDA device(s) visible)");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw InputError("device", "\"" + text + "\"", "device '" + text + "' is not one of default, cpu, cuda, cuda:N");
}

}  // namespace sf::diffusion
