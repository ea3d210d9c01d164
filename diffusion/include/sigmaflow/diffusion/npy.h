// NumPy .npy files (format versions 1.0-3.0), so results can be read by other tools. The header
// is parsed by a small non-recursive scanner with bounds (docs/limits.md): at most
// kMaxNpyHeaderBytes of header and kMaxNpyDims dimensions; the element count is checked for
// overflow and against the data actually present before anything is allocated.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "sigmaflow/status.h"

namespace sf::diffusion {

inline constexpr size_t kMaxNpyHeaderBytes = 65536;
inline constexpr size_t kMaxNpyDims = 64;

// Writes a CPU copy of `t` (float32, float64, int32, int64, uint8, bool) atomically.
Status save_npy(const std::string& path, const at::Tensor& t);
// Reads a .npy file into a CPU tensor; refuses non-regular and oversized files; every
// malformation is an error naming what is wrong.
Result<at::Tensor> load_npy(const std::string& path);
Result<at::Tensor> parse_npy(const std::string& bytes, const std::string& what);

}  // namespace sf::diffusion
