#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/ports.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {

Value sigmas_value(const diffusion::Sigmas& s) { return s.to_value(); }

// Declared once: each port is the contract's entry and the typed reader (sigmaflow/ports.h).
const In<int64_t> kSteps{Int("steps", 20, 1, 10000)};
const In<double> kSigmaMax{Float("sigma_max", 14.614642, 0.0, 5000.0)};
const In<double> kSigmaMin{Float("sigma_min", 0.0291675, 0.0, 5000.0)};
const In<double> kKarrasRho{Float("rho", 7.0, 0.0, 100.0)};
const In<double> kPolyRho{Float("rho", 1.0, 0.0, 100.0)};
const In<double> kBetaD{Float("beta_d", 19.9, 0.0, 5000.0)};
const In<double> kBetaMin{Float("beta_min", 0.1, 0.0, 5000.0)};
const In<double> kEpsS{Float("eps_s", 0.001, 0.0, 1.0, 0.0001)};
const In<double> kMu{Float("mu", 0.0, -10.0, 10.0, 0.1)};
const In<double> kBeta{Float("beta", 0.5, 0.0, 10.0, 0.1)};

Constraint sigma_range() { return Less(kSigmaMin.name(), kSigmaMax.name()); }

}  // namespace

NodeDef karras_scheduler_node() {
  NodeContract c =
      Node("KarrasScheduler", kSchedulerCategory,
           "Karras et al. (2022): (smax^(1/rho) + r (smin^(1/rho) - smax^(1/rho)))^rho, r = linspace(0, 1, N), then 0.",
           {kSteps, kSigmaMax, kSigmaMin, kKarrasRho}, {{"SIGMAS", "SIGMAS"}});
  c.constraints = {sigma_range()};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::karras(kSteps(in), kSigmaMin(in), kSigmaMax(in), kKarrasRho(in)))};
  });
}

NodeDef exponential_scheduler_node() {
  NodeContract c =
      Node("ExponentialScheduler", kSchedulerCategory, "Geometric (log-linear) from sigma_max to sigma_min, then 0.",
           {kSteps, kSigmaMax, kSigmaMin}, {{"SIGMAS", "SIGMAS"}});
  c.constraints = {sigma_range()};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::exponential(kSteps(in), kSigmaMin(in), kSigmaMax(in)))};
  });
}

NodeDef polyexponential_scheduler_node() {
  NodeContract c =
      Node("PolyexponentialScheduler", kSchedulerCategory,
           "Polynomial in log sigma: exp(r^rho (ln smax - ln smin) + ln smin), r = linspace(1, 0, N), then 0.",
           {kSteps, kSigmaMax, kSigmaMin, kPolyRho}, {{"SIGMAS", "SIGMAS"}});
  c.constraints = {sigma_range()};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::polyexponential(kSteps(in), kSigmaMin(in), kSigmaMax(in), kPolyRho(in)))};
  });
}

NodeDef vp_scheduler_node() {
  NodeContract c = Node("VPScheduler", kSchedulerCategory,
                        "Continuous VP: sqrt(expm1(beta_d t^2/2 + beta_min t)), t = linspace(1, eps_s, N), then 0.",
                        {kSteps, kBetaD, kBetaMin, kEpsS}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::vp(kSteps(in), kBetaD(in), kBetaMin(in), kEpsS(in)))};
  });
}

NodeDef laplace_scheduler_node() {
  NodeContract c = Node(
      "LaplaceScheduler", kSchedulerCategory,
      "Laplace schedule (Tiankai et al. 2024), clamped to [sigma_min, sigma_max]. As in ComfyUI it has N values and "
      "NO trailing 0, so sampling ends at sigma_min.",
      {kSteps, kSigmaMax, kSigmaMin, kMu, kBeta}, {{"SIGMAS", "SIGMAS"}});
  c.constraints = {sigma_range()};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::laplace(kSteps(in), kSigmaMin(in), kSigmaMax(in), kMu(in), kBeta(in)))};
  });
}

}  // namespace sf::nodes
