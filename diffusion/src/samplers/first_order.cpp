// euler, heun and dpm_2: single-step ODE samplers with optional EDM churn. Each step raises sigma
// by the churn, denoises there, and returns the denoised estimate when it goes into 0.
#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
// The churn, the model call and the final-step rule around `update(x, sigma_hat, next, den)`.
template <class Update>
at::Tensor churned_steps(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o,
                         Update&& update) {
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double, double sn) {
    double sh = churn(run, x, s, i, o);
    at::Tensor den = run.denoise(x, sh);
    return sn == 0 ? den : update(x, sh, sn, den);
  });
}
}  // namespace

// k-diffusion sample_euler (Karras et al. 2022, Algorithm 2 with churn).
at::Tensor euler(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    return x + derivative(x, sh, den) * (sn - sh);
  });
}

// k-diffusion sample_heun: Euler predictor, trapezoidal corrector; plain Euler into 0.
at::Tensor heun(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [&](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    at::Tensor d = derivative(x, sh, den);
    double dt = sn - sh;
    at::Tensor x2 = x + d * dt;
    at::Tensor d2 = derivative(x2, sn, run.denoise(x2, sn));
    return x + (d + d2) * (dt / 2);
  });
}

// k-diffusion sample_dpm_2: the midpoint in log sigma; Euler into 0.
at::Tensor dpm_2(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [&](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    double mid = std::exp((std::log(sh) + std::log(sn)) / 2);
    at::Tensor x2 = x + derivative(x, sh, den) * (mid - sh);
    return x + derivative(x2, mid, run.denoise(x2, mid)) * (sn - sh);
  });
}

}  // namespace sf::diffusion::samplers

// ---- Step forms (sigmaflow/step_form.h): the same steps as algebra, with churn off ----------

namespace sf::diffusion::samplers {

namespace {

Status churn_free(const SamplerSettings& o) {
  if (o.s_churn > 0)
    return InvalidArgument("s_churn > 0 adds fresh noise at every step, so the steps cannot be reproduced as algebra")
        .about("s_churn", number_text(o.s_churn));
  return Status::Ok();
}

class EulerForm final : public StepForm {
 public:
  std::vector<double> coefficients(double si, double sj, const std::vector<double>&) const override {
    return {sj / si, 1.0 - sj / si};
  }
};

// heun: the trapezoid of the derivatives at sigma_i and at the probe (= sigma_j).
class HeunForm final : public StepForm {
 public:
  bool two_evaluations() const override { return true; }
  at::Tensor finish(const at::Tensor& x_i, const at::Tensor& den_i, double si, const at::Tensor& x_probe,
                    const at::Tensor& den_probe, const at::Tensor& sj, const at::Tensor&) const override {
    at::Tensor d_i = (x_i - den_i) / si;
    return x_i + (d_i + (x_probe - den_probe) / sj) * ((sj - si) / 2);
  }
};

// dpm_2: the derivative at the log-sigma midpoint carries the whole step.
class Dpm2Form final : public StepForm {
 public:
  bool two_evaluations() const override { return true; }
  double probe_sigma(double si, double sj) const override { return std::exp((std::log(si) + std::log(sj)) / 2); }
  at::Tensor finish(const at::Tensor& x_i, const at::Tensor&, double si, const at::Tensor& x_probe,
                    const at::Tensor& den_probe, const at::Tensor& sj, const at::Tensor& sp) const override {
    return x_i + (x_probe - den_probe) / sp * (sj - si);
  }
};

template <class Form>
Result<std::shared_ptr<const StepForm>> churn_free_form(const SamplerSettings& o) {
  Status st = churn_free(o);
  if (!st.ok()) return st;
  return std::shared_ptr<const StepForm>(std::make_shared<Form>());
}

}  // namespace

Result<std::shared_ptr<const StepForm>> euler_form(const SamplerSettings& o) { return churn_free_form<EulerForm>(o); }
Result<std::shared_ptr<const StepForm>> heun_form(const SamplerSettings& o) { return churn_free_form<HeunForm>(o); }
Result<std::shared_ptr<const StepForm>> dpm_2_form(const SamplerSettings& o) { return churn_free_form<Dpm2Form>(o); }

}  // namespace sf::diffusion::samplers
