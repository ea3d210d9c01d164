// Device names typed by users ("default", "auto", "cpu", "cuda", "cuda:N").
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace sf::diffusion {

// "default"/"auto"/"" -> `fallback` (the host's --device); "cpu"; "cuda"/"cuda:N". Throws an
// sf::InputError about the nodes' "device" input when it is malformed or absent on this machine.
c10::Device resolve_device(const std::string& text, c10::Device fallback);

}  // namespace sf::diffusion
