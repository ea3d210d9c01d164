// NumPy .npy files (format versions 1.0-3.0, C order), so results can be read by other tools.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "sigmaflow/status.h"

namespace sf::nodes {

// Writes a CPU copy of `t` (float32, float64, int32, int64, uint8, bool) atomically.
Status save_npy(const std::string& path, const at::Tensor& t);
// Reads a .npy file into a CPU tensor; every malformation is an error naming what is wrong.
Result<at::Tensor> load_npy(const std::string& path);
Result<at::Tensor> parse_npy(const std::string& bytes, const std::string& what);

}  // namespace sf::nodes
