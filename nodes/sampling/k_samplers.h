// k-diffusion's samplers in C++: the same update rules, step for step (conventions.md §5).
// Each runs len(sigmas) - 1 steps of the VE-space ODE/SDE dx/dsigma = (x - D(x, sigma)) / sigma.
// Sigmas stay on the host; the state stays on the model's device; per-step noise is generated on
// the CPU from the seed (so a seed gives the same numbers on every device) and moved over.
#pragma once

#include <ATen/core/Tensor.h>

#include <limits>
#include <string>
#include <vector>

#include "sigmaflow/sampler.h"

namespace sf::nodes {

struct SamplerOptions {
  std::string name = "euler";
  // Ancestral / SDE samplers.
  double eta = 1.0;
  double s_noise = 1.0;
  // EDM churn (euler, heun, dpm_2).
  double s_churn = 0.0;
  double s_tmin = 0.0;
  double s_tmax = std::numeric_limits<double>::infinity();
  // dpmpp_2m_sde: "midpoint" or "heun".
  std::string solver_type = "midpoint";
  // Multistep samplers (lms, dpmpp_2m, dpmpp_2m_sde, dpmpp_3m_sde, ipndm, ipndm_v): take the last
  // step into a positive sigma at first order (and the one before at most second order), as
  // diffusers' lower_order_final. -1 = auto: on when the run has fewer than 15 steps.
  int lower_order_final = -1;
  int max_order = 4;  // lms, ipndm, ipndm_v
};

// Every sampler name, in ComfyUI's order.
const std::vector<std::string>& sampler_names();
bool is_stochastic(const std::string& name);
bool is_multistep(const std::string& name);

// Runs the sampler. Throws std::invalid_argument for an unknown name, std::runtime_error when
// the model produced non-finite values (naming the step and sigma).
at::Tensor run_sampler(const SamplerOptions& options, const Model& model, at::Tensor x,
                       const std::vector<double>& sigmas, SampleContext& ctx);

class KSamplerObject : public Sampler {
 public:
  explicit KSamplerObject(SamplerOptions options) : options_(std::move(options)) {}
  std::string name() const override { return options_.name; }
  at::Tensor sample(const Model& model, at::Tensor x, const std::vector<double>& sigmas,
                    SampleContext& ctx) const override {
    return run_sampler(options_, model, std::move(x), sigmas, ctx);
  }
  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
};

// Coefficients of k-diffusion's linear multistep method: integral over [t[i], t[i+1]] of the
// Lagrange basis polynomial j built on t[i], t[i-1], ..., t[i-order+1]. Exact (Gauss-Legendre).
double linear_multistep_coeff(int order, const std::vector<double>& t, int i, int j);

}  // namespace sf::nodes
