// ScoreError and LogLikelihood: how well a (learned) model matches an exact one.
#include <ATen/ATen.h>

#include <sstream>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/model_metrics.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
// Shared by both nodes (compared_models reads the first two).
const In<Model> kModel{Port("model", "MODEL")};
const In<Model> kReferenceModel{Requires(Port("reference_model", "MODEL"), kExactDensity)};
const In<double> kSigmaMin{Float("sigma_min", 0.002, 1e-6, 1e4, 0.001)};
const In<double> kSigmaMax{Float("sigma_max", 80.0, 1e-5, 1e5, 0.1)};
const In<uint64_t> kSeed{Seed("seed")};
// ScoreError
const In<int64_t> kScoreSamples{Int("samples", 4096, 1, 1 << 22)};
const In<int64_t> kBands{Int("bands", 8, 1, 1000)};
// LogLikelihood
const In<int64_t> kLikelihoodSamples{Int("samples", 512, 1, 1 << 20)};
const In<int64_t> kSteps{Int("steps", 64, 1, 100000)};

}  // namespace

namespace {

// Both models of a comparison, with the same sample shape.
std::pair<std::shared_ptr<const Model>, std::shared_ptr<const Model>> compared_models(const Inputs& in) {
  auto model = kModel(in);
  auto ref = kReferenceModel(in);
  if (model->sample_shape() != ref->sample_shape())
    throw InputError(kModel.name(), c10::str(model->sample_shape()),
                     "has another sample shape than reference_model " + c10::str(ref->sample_shape()));
  return {model, ref};
}

Outputs metric_output(const std::string& name, double value, bool lower_is_better, const std::string& computed_on) {
  auto m = std::make_shared<Metric>();
  m->name = name;
  m->value = value;
  m->lower_is_better = lower_is_better;
  m->computed_on = computed_on;
  return Outputs{Value(std::shared_ptr<const Object>(m))};
}

}  // namespace

NodeDef score_error_node() {
  NodeContract c = Node(
      "ScoreError", kMetricCategory,
      "E||D_model - D_true||^2 / d against an exact model's denoiser, per log-uniform sigma band (logged) and overall "
      "with EDM's weight lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 (the METRIC; lower is "
      "better). "
      "Data from the reference model, both models at the same noised points.",
      {kModel, kReferenceModel, kScoreSamples, kBands, kSigmaMin, kSigmaMax, kSeed}, {{"METRIC", "METRIC"}});
  c.constraints = {Less(kSigmaMin.name(), kSigmaMax.name())};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto [model, ref] = compared_models(in);
    diffusion::ScoreErrorResult r =
        diffusion::score_error(*model, *ref, kScoreSamples(in), kBands(in), kSigmaMin(in), kSigmaMax(in), kSeed(in),
                               ctx.collectives(), [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); });
    std::ostringstream os;
    os << "score error per band (sigma range: mean ||D - D_true||^2 / d):";
    for (size_t b = 0; b < r.band_error.size(); ++b)
      os << "\n  [" << number_text(r.band_lo[b]) << ", " << number_text(r.band_hi[b])
         << "]: " << number_text(r.band_error[b]);
    os << "\n  EDM-weighted overall: " << number_text(r.weighted);
    ctx.info(os.str());
    return metric_output("score_error", r.weighted, true,
                         std::to_string(kScoreSamples(in)) + " samples x " + std::to_string(kBands(in)) +
                             " bands vs the exact denoiser of " + ref->describe());
  });
}

NodeDef log_likelihood_node() {
  NodeContract c = Node(
      "LogLikelihood", kMetricCategory,
      "Mean log-likelihood (nats per sample; higher is better) of exact data under the model's probability-flow ODE, "
      "integrated by Heun's method in ln sigma from sigma_min to sigma_max with the exact divergence (one backward "
      "pass per dimension: dimensions up to 64) and the prior N(0, sigma_max^2 I). Data from the reference model.",
      {kModel, kReferenceModel, kLikelihoodSamples, kSteps, kSigmaMin, kSigmaMax, kSeed}, {{"METRIC", "METRIC"}});
  c.constraints = {Less(kSigmaMin.name(), kSigmaMax.name())};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto [model, ref] = compared_models(in);
    at::Tensor x = exact_of(*ref, kReferenceModel.name()).sample_data(kLikelihoodSamples(in), kSeed(in));
    at::Tensor ll;
    // Under torchrun each rank integrates its rows; the per-sample values are gathered. A model of
    // too many dimensions is an error about "model".
    ll = diffusion::rows_gathered(ctx.collectives(), x.size(0), [&](int64_t begin, int64_t end) {
      return diffusion::ode_log_likelihood(*model, x.narrow(0, begin, end - begin), kSteps(in), kSigmaMin(in),
                                           kSigmaMax(in), 64,
                                           [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); });
    });
    return metric_output("log_likelihood", ll.mean().item<double>(), false,
                         std::to_string(kLikelihoodSamples(in)) + " exact samples, probability-flow ODE with " +
                             std::to_string(kSteps(in)) + " Heun steps");
  });
}

}  // namespace sf::nodes
