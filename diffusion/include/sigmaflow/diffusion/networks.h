// Denoiser networks written in TorchScript: the network F of EDM's preconditioning
// D(x, sigma) = c_skip x + c_out F(c_in x, sigma). forward(x, sigma) takes the scaled input
// c_in x [B, ...] and the VE noise level sigma [B] (time input "sigma"; the network embeds
// c_noise = ln(sigma) / 4 itself), and returns F with x's shape. The modules are ordinary
// TorchScript: torch.jit.load (Python) and TorchScriptModel load them. Their last layer starts at
// zero, so an untrained network gives D = c_skip x.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace torch::jit {
struct Module;
}

namespace sf::diffusion {

// Vectors [B, dim]: sinusoidal embedding of ln(sigma)/4 (`embedding` features), concatenated
// with x, then `depth` hidden layers of `width` units with SiLU.
struct MlpSpec {
  int64_t dim = 2;
  int64_t width = 128;
  int64_t depth = 3;
  int64_t embedding = 32;
};

// Images [B, C, H, W] with H and W divisible by 4: a two-level UNet (base, 2 base channels),
// residual blocks with GroupNorm(8) and SiLU, the noise embedding added in every block, skip
// connections by concatenation, strided convolutions down and transposed convolutions up.
struct UnetSpec {
  int64_t channels = 1;
  int64_t height = 28, width = 28;
  int64_t base = 32;        // channels at full resolution (a multiple of 8)
  int64_t embedding = 128;  // noise-embedding width
};

// Parameters drawn from a CPU generator seeded with `seed` (He-style fan-in scaling), float32
// on the CPU. Throws an sf::InputError about TrainDenoiser's "data" (an image shape the UNet cannot
// take) or "unet_channels", and std::invalid_argument on another spec that cannot be built.
std::shared_ptr<torch::jit::Module> make_mlp(const MlpSpec& spec, uint64_t seed);
std::shared_ptr<torch::jit::Module> make_unet(const UnetSpec& spec, uint64_t seed);

// Number of scalar parameters of a module.
int64_t parameter_count(const torch::jit::Module& module);

}  // namespace sf::diffusion
