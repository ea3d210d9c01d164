// Schedulers built from tables: Beta sampling over the model's sigma table, Align Your Steps.
#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/ports.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Model> kModel{Port("model", "MODEL")};
const In<int64_t> kBetaSteps{Int("steps", 20, 1, 10000)};
const In<double> kAlpha{Float("alpha", 0.6, 0.0, 50.0)};
const In<double> kBeta{Float("beta", 0.6, 0.0, 50.0)};
const In<std::string> kModelType{Combo("model_type", {"SD1", "SDXL", "SVD"})};
const In<int64_t> kAysSteps{Int("steps", 10, 1, 10000)};
const In<double> kDenoise{Float("denoise", 1.0, 0.0, 1.0)};

}  // namespace

NodeDef beta_sampling_scheduler_node() {
  NodeContract c = Node("BetaSamplingScheduler", kSchedulerCategory,
                        "Beta(alpha, beta) quantiles of the model's sigma-table index; repeated indices are dropped.",
                        {kModel, kBetaSteps, kAlpha, kBeta}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = kModel(in);
    double a = kAlpha(in), b = kBeta(in);
    return Outputs{diffusion::Sigmas(schedules::beta(kBetaSteps(in), model->sigma_table(), a, b)).to_value()};
  });
}

NodeDef align_your_steps_scheduler_node() {
  NodeContract c = Node(
      "AlignYourStepsScheduler", kSchedulerCategory,
      "Align Your Steps (Sabour et al. 2024) published 10-step tables, log-linearly resampled to other step counts; "
      "denoise < 1 keeps the last round(steps * denoise) steps; the last value is set to 0.",
      {kModelType, kAysSteps, kDenoise}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{
        diffusion::Sigmas(schedules::align_your_steps(kModelType(in), kAysSteps(in), kDenoise(in))).to_value()};
  });
}

}  // namespace sf::nodes
