// An example sampler written with the SDK's sampler kit (sigmaflow/diffusion/sampler_kit.h):
// Ralston's second-order Runge-Kutta method on the probability-flow ODE dx/dsigma = (x - D)/sigma,
// with the step into sigma = 0 returning the denoised estimate (the final-step rule).
//
// The kit gives: SamplerRun::denoise (counts model evaluations, keeps the last denoised
// estimate), derivative (k-diffusion's to_d), steps_into_zero (the final-step rule) and
// SamplerRun::step_done (progress, interrupts). Stochastic samplers draw per-step noise with
// SamplerRun::noise (seeded from the run's seed, the same on every device).
//
// A deterministic sampler may also describe its step as algebra (sigmaflow/step_form.h); then
// optimal_steps (OptimalStepsScheduler, the named schedule) can optimise a schedule for it.
#include <ATen/ATen.h>
#include <sigmaflow/diffusion/sampler_kit.h>
#include <sigmaflow/node.h>

namespace {

using sf::diffusion::derivative;
using sf::diffusion::SamplerRun;
using sf::diffusion::steps_into_zero;

at::Tensor ralston(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const sf::SamplerSettings&) {
  for (int64_t i = 0; i + 1 < static_cast<int64_t>(s.size()); ++i) {
    const double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
    at::Tensor den = run.denoise(x, si);
    if (steps_into_zero(s, i)) {
      x = den;
    } else {
      const double h = sn - si, mid = si + 2.0 / 3.0 * h;
      at::Tensor d1 = derivative(x, si, den);
      at::Tensor x2 = x + d1 * (2.0 / 3.0 * h);
      at::Tensor d2 = derivative(x2, mid, run.denoise(x2, mid));
      x = x + (d1 * 0.25 + d2 * 0.75) * h;
    }
    run.step_done(i);
  }
  return x;
}

// Ralston's step as algebra: an Euler probe two thirds of the way to sigma_j, then 1/4 and 3/4 of
// the derivatives at sigma_i and at the probe. optimal_steps checks it against ralston() above
// before using it.
class RalstonForm final : public sf::StepForm {
 public:
  bool two_evaluations() const override { return true; }
  double probe_sigma(double si, double sj) const override { return si + 2.0 / 3.0 * (sj - si); }
  at::Tensor finish(const at::Tensor& x_i, const at::Tensor& den_i, double si, const at::Tensor& x_probe,
                    const at::Tensor& den_probe, const at::Tensor& sj, const at::Tensor& sp) const override {
    at::Tensor d1 = (x_i - den_i) / si;
    at::Tensor d2 = (x_probe - den_probe) / sp;
    return x_i + (d1 * 0.25 + d2 * 0.75) * (sj - si);
  }
};

class Ralston : public sf::Sampler {
 public:
  explicit Ralston(sf::SamplerSettings settings) : settings_(std::move(settings)) {}
  std::string name() const override { return "ralston"; }
  sf::SamplerTraits traits() const override { return {false, false, 2, 2}; }
  sf::Result<std::shared_ptr<const sf::StepForm>> step_form() const override {
    return std::shared_ptr<const sf::StepForm>(std::make_shared<RalstonForm>());
  }

 protected:
  // run_located replays a run whose result is not finite to name the sigma where NaN appeared.
  at::Tensor run(const sf::Model& model, at::Tensor x, const std::vector<double>& sigmas,
                 sf::SampleContext& ctx) const override {
    return sf::diffusion::run_located(ralston, settings_, model, std::move(x), sigmas, ctx);
  }

 private:
  sf::SamplerSettings settings_;
};

}  // namespace

sf::SamplerDef ralston_sampler_def() {
  sf::SamplerTraits traits{false, false, 2, 2};  // deterministic, single-step, order 2, 2 evaluations
  return sf::make_sampler_def("ralston", "Ralston's second-order Runge-Kutta (example plugin)", traits,
                              [](const sf::SamplerSettings& s) { return std::make_shared<Ralston>(s); });
}
