// An exact Gaussian mixture in VE space: data x0 ~ sum_k w_k N(mu_k, diag(v_k)); noised
// x = x0 + sigma n has marginal sum_k w_k N(mu_k, diag(v_k + sigma^2)). Denoiser, score and
// log-density are closed-form; responsibilities use log-sum-exp. Components may carry class
// labels: conditioning on label c restricts the mixture to the components labelled c, which
// gives an exact class-conditional denoiser (and an exact reference for classifier-free guidance).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "sigmaflow/model.h"

namespace sf::diffusion {

struct MixtureParams {
  at::Tensor weights;                 // [K] float64, sums to 1
  at::Tensor means;                   // [K, d] float64
  at::Tensor variances;               // [K, d] float64, > 0
  std::vector<int64_t> sample_shape;  // product = d
  std::vector<int64_t> labels;        // K class labels (0 .. classes - 1), or empty: unconditional
  std::string name;                   // preset name or "custom"
};

// Presets: "ring8", "clusters2d", "powerlaw64", "ring8_classes" (ring8 with 2 classes: even and
// odd modes). Deterministic (fixed internal seeds).
MixtureParams mixture_preset(const std::string& name);
const std::vector<std::string>& mixture_preset_names();

class GaussianMixture : public Model, public ExactDensity {
 public:
  // Throws sf::InputError naming "means", "stds"/"variances" or "weights" when a value cannot be
  // held by `dtype` (e.g. a mean of 1e300 or a std of 1e-300 in float32), and "labels" when the
  // labels are not one per component.
  GaussianMixture(MixtureParams params, double sigma_min, double sigma_max, c10::Device device, c10::ScalarType dtype);

  const ExactDensity* exact() const override { return this; }
  at::Tensor log_density(const at::Tensor& x, double sigma) const override;
  at::Tensor component_means() const override { return means_; }
  at::Tensor component_weights() const override { return weights_; }
  at::Tensor sample_data(int64_t n, uint64_t seed) const override;

  int64_t components() const { return params_.weights.size(0); }
  int64_t dim() const { return params_.means.size(1); }
  int64_t classes() const { return info().num_classes; }

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override;

 private:
  // log w_k + log N(x; mu_k, v_k + s^2) for flattened x [B, d]: [B, K]; optionally the posterior
  // mean. `log_weights` selects the (sub-)mixture.
  at::Tensor log_joint(const at::Tensor& xf, const NoiseLevels& sigma, const at::Tensor& log_weights,
                       at::Tensor* posterior_mean) const;
  at::Tensor log_joint_one_sigma(const at::Tensor& xf, double sigma, const at::Tensor& log_weights,
                                 at::Tensor* posterior_mean) const;
  at::Tensor log_joint_broadcast(const at::Tensor& xf, const NoiseLevels& sigma, const at::Tensor& log_weights,
                                 at::Tensor* posterior_mean) const;
  // The log-weights of the components of class c (-inf elsewhere).
  at::Tensor class_log_weights(int64_t c) const;

  MixtureParams params_;
  // On the model's device, in its dtype.
  at::Tensor weights_, log_weights_, means_, variances_, mean_sq_;
};

}  // namespace sf::diffusion
