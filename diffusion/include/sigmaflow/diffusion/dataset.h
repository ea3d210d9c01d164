// Datasets for fitting exact models: IDX files (MNIST / Fashion-MNIST format, gzip or plain) and
// NumPy .npy files.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "sigmaflow/status.h"

namespace sf::diffusion {

// Reads an IDX file (gzip-compressed or not): big-endian magic 0x0000TTNN, NN dimensions, then
// the data. Returns the raw values (uint8 -> kByte, int32 -> kInt, float32 -> kFloat, ...).
Result<at::Tensor> load_idx(const std::string& path);
// The IDX bytes (already decompressed) of `what` (a name for messages).
Result<at::Tensor> parse_idx(const std::string& bytes, const std::string& what);
// Loads .idx/.idx*-ubyte(.gz) or .npy; uint8 data is scaled to [-1, 1] (x / 127.5 - 1), float data
// is kept as it is. `offset`/`limit` (0 = all) select a slice of the first dimension.
Result<at::Tensor> load_dataset(const std::string& path, int64_t offset, int64_t limit);

}  // namespace sf::diffusion
