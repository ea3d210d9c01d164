// A denoiser network trained for a benchmark: the MLP TrainDenoiser builds for vectors, trained
// on rows of `data` with the given noise-level distribution, wrapped as a MODEL exactly as
// TorchScriptModel reloads it (EDM preconditioning, sigma input, sigma_data = the data's std).
// Shared by bench_training (the training claim) and bench_optimal_steps (learned networks).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sigmaflow/model.h"

namespace sf::diffusion {
class NoiseLevelDistribution;
}

namespace sf::bench {

struct TrainedNetwork {
  std::shared_ptr<Model> model;  // float32 on the CPU, evaluated without autograd
  std::vector<double> knots;     // the level distribution's discrete schedule at the end (empty: continuous)
  double seconds = 0.0;          // training wall time
};

// `data` [rows, dim] float32; `steps` Adam steps at batch 256 on one thread (as TrainDenoiser
// trains an MLP); `seed` fixes the initial weights and every batch.
TrainedNetwork train_network(const at::Tensor& data, int64_t steps,
                             std::shared_ptr<diffusion::NoiseLevelDistribution> levels, uint64_t seed,
                             int64_t width = 128, int64_t depth = 3);

}  // namespace sf::bench
