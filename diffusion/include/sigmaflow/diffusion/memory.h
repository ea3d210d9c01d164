// Checks made before an allocation sized by user input (a batch size, a file header), so a
// request the machine cannot hold is refused with the bytes it needs instead of bad_alloc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/status.h"

namespace sf::diffusion {

// Bytes the machine can still give this process: MemAvailable from /proc/meminfo (or the
// SIGMAFLOW_MEMORY_LIMIT override, in bytes, which tests use); 0 when unknown.
uint64_t available_memory_bytes();

// elements x bytes per element; false when the product overflows, or when the product of the
// non-zero dimensions does not fit in int64 (LibTorch's sizes and strides; an empty tensor of such
// a shape is invalid too). Negative dimensions are false.
bool checked_bytes(const std::vector<int64_t>& shape, uint64_t element_size, uint64_t& bytes);

// Ok when `bytes` fits in the available memory (with `copies` extra copies the computation will
// make); otherwise a ResourceExhausted status "<what> needs N bytes (...), M are available".
Status check_allocation(uint64_t bytes, const std::string& what, double copies = 1.0);

// "1.5 GB", "12.0 MB", ...
std::string human_bytes(uint64_t bytes);

}  // namespace sf::diffusion
