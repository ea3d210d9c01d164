// PNG encoding with libpng into memory (the caller writes the bytes atomically).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/status.h"

namespace sf::nodes {

// 8-bit gray (channels 1) or RGB (channels 3), rows top to bottom.
Result<std::string> encode_png(const std::vector<uint8_t>& pixels, int width, int height, int channels);

}  // namespace sf::nodes
