// Seeded Gaussian noise, generated the one way sigmaflow generates noise: on the CPU in float32
// from a seed (torch.randn with manual_seed, as ComfyUI's prepare_noise), then moved to the
// target device and dtype. So a seed gives the same numbers on every machine.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace sf::diffusion {

// A CPU generator seeded with `seed`.
at::Generator cpu_generator(uint64_t seed);
// randn(shape) from `gen` (CPU float32), moved to `device` and `dtype`. Advances `gen`.
at::Tensor normal_like(at::Generator& gen, at::IntArrayRef shape, c10::Device device, c10::ScalarType dtype);
// randn(shape) from a fresh generator seeded with `seed`.
at::Tensor seeded_normal(uint64_t seed, at::IntArrayRef shape, c10::Device device, c10::ScalarType dtype);

// The seed of stream `index` of `seed` (splitmix64 of both): independent streams for pieces of
// work (levels, chunks of samples, training steps) that must not depend on which process or in
// which order they are drawn.
uint64_t stream_seed(uint64_t seed, uint64_t index);

// {batch, ...sample_shape}.
std::vector<int64_t> batch_shape(int64_t batch, const std::vector<int64_t>& sample_shape);

}  // namespace sf::diffusion
