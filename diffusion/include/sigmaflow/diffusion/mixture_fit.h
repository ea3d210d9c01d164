// Fitting a Gaussian mixture to data by EM with k-means++ initialisation, so an image-like model
// with an exact score can come from real data.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "sigmaflow/diffusion/gaussian_mixture.h"

namespace sf::diffusion {

struct FitOptions {
  int64_t components = 10;
  bool diagonal = true;  // else isotropic per component
  int64_t iterations = 100;
  double tolerance = 1e-6;       // stop when the mean log-likelihood improves less than this
  double variance_floor = 1e-4;  // keeps components from collapsing onto single points
  uint64_t seed = 0;
};

struct FitResult {
  MixtureParams params;
  double mean_log_likelihood = 0;
  int64_t iterations = 0;
};

// data: [N, ...sample shape]. Deterministic for a seed (CPU, float64).
FitResult fit_mixture(const at::Tensor& data, const FitOptions& options);

}  // namespace sf::diffusion
