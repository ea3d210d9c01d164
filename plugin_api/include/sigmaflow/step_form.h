// (3.0) A deterministic sampler's step algebra, the optional capability that lets optimal_steps
// optimise a schedule for it (docs/writing-nodes.md, "Samplers optimal_steps can serve").
//
// The optimiser evaluates one step sigma_i -> sigma_j for many targets j from one state at once,
// so it needs the step as algebra, not as a loop. A state at sigma_i is (x_i, D_i = D(x_i,
// sigma_i), history h_1..h_k), h_1 the most recent item of the sampler's own history. A form is
// one of two kinds:
//   - linear (one evaluation per step): x_j = c_0 x_i + c_1 D_i + sum_k c_(k+1) h_k, the
//     coefficients depending only on sigmas (coefficients());
//   - two evaluations per step: an Euler probe x_p = x_i + (sigma_p - sigma_i) (x_i - D_i) /
//     sigma_i to sigma_p = probe_sigma(sigma_i, sigma_j), one evaluation D_p = D(x_p, sigma_p),
//     and finish() combining them.
// The step into sigma = 0 is not part of a form: every sampler of the optimiser returns the
// denoised estimate there (the final-step rule of sigmaflow/diffusion/sampler_kit.h).
//
// Contract: a form reproduces its sampler's run() step for step (with the settings the sampler
// was made with). Before it optimises anything, the optimiser checks that on a short uneven path
// of an exact mixture in float64 and refuses a form that differs by more than 1e-9, naming the
// sampler and its plugin. Forms are immutable and called from any thread.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace sf {

class __attribute__((visibility("default"))) StepForm {
 public:
  enum class History {
    kNone,        // single-step samplers
    kDenoised,    // h = D at earlier sigmas (dpmpp_2m, dpmpp_3m)
    kDerivative,  // h = (x - D) / sigma at earlier sigmas (lms, ipndm, ipndm_v)
  };

  virtual ~StepForm();

  // What distinguishes this form's steps from those of another form of the same sampler (the
  // settings that change the algebra, e.g. "max_order=3"); part of the optimiser's cache keys.
  virtual std::string settings_key() const { return ""; }

  virtual History history() const { return History::kNone; }
  // Items of history a state carries (0 for single-step samplers).
  virtual int history_capacity() const { return 0; }
  // True for samplers that extrapolate from earlier steps (the optimiser's step-ratio bound
  // applies to them).
  bool multistep() const { return history_capacity() > 0; }

  virtual bool two_evaluations() const { return false; }

  // Linear forms: coefficients over [x_i, D_i, h_1, ..., h_k] for the step sigma_i -> sigma_j
  // (sigma_j > 0). `past` holds the sigmas of the path before sigma_i, most recent first, one per
  // history item (k = past.size() <= history_capacity()); returns 2 + k values.
  virtual std::vector<double> coefficients(double sigma_i, double sigma_j, const std::vector<double>& past) const;

  // Two-evaluation forms: where the probe evaluates (sigma_j by default), and the step from the
  // probe's result. In finish(), x_i and D_i are [M, ...]; x_probe and D_probe [J, M, ...] for J
  // targets; sigma_j and sigma_p [J, 1, ...] float64 tensors of the targets and their probe
  // sigmas (broadcastable). Returns x_j [J, M, ...].
  virtual double probe_sigma(double /*sigma_i*/, double sigma_j) const { return sigma_j; }
  virtual at::Tensor finish(const at::Tensor& x_i, const at::Tensor& denoised_i, double sigma_i,
                            const at::Tensor& x_probe, const at::Tensor& denoised_probe, const at::Tensor& sigma_j,
                            const at::Tensor& sigma_p) const;

  // The item a state contributes to the next state's history, from history(): D_i or
  // (x_i - D_i) / sigma_i.
  at::Tensor history_item(const at::Tensor& x_i, const at::Tensor& denoised_i, double sigma_i) const;
};

}  // namespace sf
