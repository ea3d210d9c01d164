// The deterministic samplers of the table, written as one step sigma_i -> sigma_j that the
// optimal-steps DP can evaluate for many targets j from one state at once.
//
// A state at sigma_i is (x_i, D_i = D(x_i, sigma_i), history h_1..h_k), h_1 the most recent item
// of the sampler's own history (dpmpp_2m: the previous denoised value; lms, ipndm, ipndm_v: the
// previous derivatives). Linear samplers map it to
//   x_j = c_0 x_i + c_1 D_i + sum_k c_(k+1) h_k
// with coefficients that depend only on sigmas (the target and the path's earlier sigmas).
// Two-evaluation samplers (heun, dpm_2) take an Euler probe to sigma_p, evaluate D there once,
// and combine. Each rule reproduces its k-diffusion sampler (diffusion/src/samplers/) with
// lower_order_final off; tests/scheduler/optimal_steps_test.cpp checks that step for step.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "sigmaflow/sampler.h"

namespace sf::oss {

enum class HistoryKind { kNone, kDenoised, kDerivative };

class StepRule {
 public:
  const std::string& sampler() const { return sampler_; }
  HistoryKind history_kind() const { return history_; }
  // History items a state carries (0 for single-step samplers).
  int history_capacity() const { return capacity_; }
  bool two_evaluations() const { return two_evaluations_; }
  // True for samplers that extrapolate from earlier steps (the step-ratio bound applies).
  bool multistep() const { return capacity_ > 0; }

  // Linear samplers: coefficients over [x_i, D_i, h_1, ..., h_k] for the step sigma_i -> sigma_j
  // (sigma_j > 0). `past` holds the sigmas of the path before sigma_i, most recent first, one per
  // history item (k = past.size()).
  std::vector<double> coefficients(double sigma_i, double sigma_j, const std::vector<double>& past) const;

  // Two-evaluation samplers: where the probe evaluates, and the step from the probe's result.
  // The probe is x_i + (sigma_p - sigma_i) (x_i - D_i) / sigma_i. In finish(), x_i and D_i are
  // [M, ...]; x_probe, D_probe [J, M, ...] for J targets; sigma_j and sigma_p are [J, 1, ...]
  // (broadcastable) tensors of the targets and their probe sigmas. Returns x_j [J, M, ...].
  double probe_sigma(double sigma_i, double sigma_j) const;
  at::Tensor finish(const at::Tensor& x_i, const at::Tensor& denoised_i, double sigma_i, const at::Tensor& x_probe,
                    const at::Tensor& denoised_probe, const at::Tensor& sigma_j, const at::Tensor& sigma_p) const;

  // The item this state contributes to the next state's history: D_i or (x_i - D_i) / sigma_i.
  at::Tensor history_item(const at::Tensor& x_i, const at::Tensor& denoised_i, double sigma_i) const;

 private:
  friend StepRule step_rule(const std::string&, const SamplerSettings&);
  std::string sampler_;
  HistoryKind history_ = HistoryKind::kNone;
  int capacity_ = 0;
  int max_order_ = 1;
  bool two_evaluations_ = false;
};

// The samplers the optimiser supports, in table order.
const std::vector<std::string>& supported_samplers();

// The rule of `sampler` with its settings. Throws sf::InputError naming "sampler" for a
// stochastic or unknown sampler (listing the supported ones), "s_churn" for churn, and
// "lower_order_final" when it is not off.
StepRule step_rule(const std::string& sampler, const SamplerSettings& settings);

}  // namespace sf::oss
