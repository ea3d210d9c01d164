#include "sigmaflow/diffusion/noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace sf::diffusion {

at::Generator cpu_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

at::Tensor normal_like(at::Generator& gen, at::IntArrayRef shape, c10::Device device, c10::ScalarType dtype) {
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)).to(device, dtype);
}

at::Tensor seeded_normal(uint64_t seed, at::IntArrayRef shape, c10::Device device, c10::ScalarType dtype) {
  at::Generator gen = cpu_generator(seed);
  return normal_like(gen, shape, device, dtype);
}

namespace {
uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t index) { return splitmix64(seed ^ splitmix64(index)); }

std::vector<int64_t> batch_shape(int64_t batch, const std::vector<int64_t>& sample_shape) {
  std::vector<int64_t> s{batch};
  s.insert(s.end(), sample_shape.begin(), sample_shape.end());
  return s;
}

}  // namespace sf::diffusion
