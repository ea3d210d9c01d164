// libFuzzer target for the data readers users point at files: the .npy reader (header scanner,
// dtype, shape, element count), the IDX reader (magic, dimensions, big-endian data) and the
// gzip path in front of it. The first byte picks the reader; the rest is the file.
#include <ATen/ATen.h>

#include <unistd.h>
#include <cstdint>
#include <fstream>
#include <string>

#include "sigmaflow/diffusion/dataset.h"
#include "sigmaflow/diffusion/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto r = sf::diffusion::parse_npy(bytes, "fuzz.npy");
      if (r.ok()) (void)r.value().clone();  // touch every byte the reader claims to hold
      break;
    }
    case 1: {
      auto r = sf::diffusion::parse_idx(bytes, "fuzz.idx");
      if (r.ok()) (void)r.value().clone();
      break;
    }
    default: {  // through a file: size checks, zlib (plain files pass through), slicing
      static const std::string path = "/tmp/sigmaflow-fuzz-" + std::to_string(getpid()) + ".idx.gz";
      std::ofstream(path, std::ios::binary) << bytes;
      auto r = sf::diffusion::load_dataset(path, 0, 0);
      if (r.ok()) (void)r.value().clone();
      break;
    }
  }
  return 0;
}
