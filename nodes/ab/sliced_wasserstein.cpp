#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<Latent> kReferenceSamples{Port("reference_samples", "LATENT")};
const In<int64_t> kProjections{Int("projections", 128, 1, 100000)};
const In<uint64_t> kSeed{Seed("seed")};

}  // namespace

NodeDef sliced_wasserstein_node() {
  NodeContract c =
      Node("SlicedWasserstein", kMetricCategory,
           "Sliced 2-Wasserstein distance between the samples and reference samples (random unit directions "
           "from the seed): a distribution distance, valid for stochastic samplers too. Carries its 95 % "
           "interval (both sets resampled) and, from 64 reference samples, its noise floor: the distance between "
           "two sets of the reference's distribution at these sizes.",
           {kSamples, kReferenceSamples, kProjections, kSeed}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = kSamples(in);
    auto r = kReferenceSamples(in);
    check_same_sample_shape(*s, kSamples.name(), *r, kReferenceSamples.name());
    const int64_t p = kProjections(in);
    const uint64_t seed = kSeed(in);
    check_projection_memory(s->samples().size(0) + r->samples().size(0), s->samples().numel() / s->samples().size(0),
                            p);
    double v = diffusion::sliced_wasserstein(s->samples(), r->samples(), p, seed, ctx.collectives());
    auto m = make_metric("sliced_wasserstein", v,
                         std::to_string(s->samples().size(0)) + " samples vs " + std::to_string(r->samples().size(0)) +
                             " reference samples, " + std::to_string(p) + " projections",
                         *s);
    // Its 95 % interval (both sets resampled) and noise floor (from halves of the reference).
    auto measure = [&](const at::Tensor& a, const at::Tensor& b) {
      return diffusion::sliced_wasserstein_influence(a, b, p, seed);
    };
    ctx.progress(1, 3);
    annotate_two_sample_interval(*m, measure(s->samples(), r->samples()), OfMean::kSqrt);
    ctx.progress(2, 3);
    auto squared = [&](const at::Tensor& a, const at::Tensor& b) {
      const double w = diffusion::sliced_wasserstein(a, b, p, seed);
      return w * w;
    };
    annotate_reference_floor(*m, r->samples(), s->samples().size(0), seed, OfMean::kSqrt, measure, squared);
    ctx.progress(3, 3);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
