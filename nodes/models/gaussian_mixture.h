// An exact Gaussian mixture in VE space: data x0 ~ sum_k w_k N(mu_k, diag(v_k)); noised
// x = x0 + sigma n has marginal sum_k w_k N(mu_k, diag(v_k + sigma^2)). Denoiser, score and
// log-density are closed-form; responsibilities use log-sum-exp.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "sigmaflow/model.h"

namespace sf::nodes {

struct MixtureParams {
  at::Tensor weights;    // [K] float64, sums to 1
  at::Tensor means;      // [K, d] float64
  at::Tensor variances;  // [K, d] float64, > 0
  std::vector<int64_t> sample_shape;  // product = d
  std::string name;      // preset name or "custom"
};

// Validates shapes and values; throws sf::InputError naming the input (weights, means, stds,
// variances) on ragged lists, negative variances, or weights that do not sum to 1 (unless
// `normalize`).
MixtureParams mixture_from_lists(const Literal* weights, const Literal& means, const Literal* stds,
                                 const Literal* variances, bool normalize);
// Presets: "ring8", "clusters2d", "powerlaw64". Deterministic (fixed internal seeds).
MixtureParams mixture_preset(const std::string& name);
const std::vector<std::string>& mixture_preset_names();

class GaussianMixture : public Model {
 public:
  GaussianMixture(MixtureParams params, double sigma_min, double sigma_max, c10::Device device,
                  c10::ScalarType dtype);

  at::Tensor denoise(const at::Tensor& x, const at::Tensor& sigma) const override;
  double sigma_min() const override { return sigma_min_; }
  double sigma_max() const override { return sigma_max_; }
  double sigma_data() const override { return sigma_data_; }
  std::vector<int64_t> sample_shape() const override { return params_.sample_shape; }
  c10::Device device() const override { return device_; }
  c10::ScalarType dtype() const override { return dtype_; }
  std::string parametrization() const override { return "ve"; }
  std::string fingerprint() const override { return fingerprint_; }
  at::Tensor log_density(const at::Tensor& x, double sigma) const override;
  at::Tensor component_means() const override { return means_; }
  at::Tensor component_weights() const override { return weights_; }
  at::Tensor sample_data(int64_t n, uint64_t seed) const override;
  std::string describe() const override;

  int64_t components() const { return params_.weights.size(0); }
  int64_t dim() const { return params_.means.size(1); }

 private:
  // log w_k + log N(x; mu_k, v_k + s^2) for flattened x [B, d], per-sample sigma [B]: [B, K].
  at::Tensor log_joint(const at::Tensor& xf, const at::Tensor& sigma, at::Tensor* posterior_mean) const;
  at::Tensor log_joint_one_sigma(const at::Tensor& xf, double sigma, at::Tensor* posterior_mean) const;

  MixtureParams params_;
  double sigma_min_, sigma_max_, sigma_data_;
  c10::Device device_;
  c10::ScalarType dtype_;
  std::string fingerprint_;
  // On device_, in dtype_.
  at::Tensor weights_, log_weights_, means_, variances_, mean_sq_;
};

}  // namespace sf::nodes
