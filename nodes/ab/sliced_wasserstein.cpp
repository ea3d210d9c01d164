#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"

namespace sf::nodes {

NodeDef sliced_wasserstein_node() {
  NodeContract c =
      Node("SlicedWasserstein", kMetricCategory,
           "Sliced 2-Wasserstein distance between the samples and reference samples (random unit directions "
           "from the seed): a distribution distance, valid for stochastic samplers too. Carries its 95 % "
           "interval (both sets resampled) and, from 64 reference samples, its noise floor: the distance between "
           "two sets of the reference's distribution at these sizes.",
           {Port("samples", "LATENT"), Port("reference_samples", "LATENT"), Int("projections", 128, 1, 100000),
            Seed("seed")},
           {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = in.get<Latent>("samples");
    auto r = in.get<Latent>("reference_samples");
    check_same_sample_shape(*s, "samples", *r, "reference_samples");
    int64_t p = in.get_int("projections");
    check_projection_memory(s->samples().size(0) + r->samples().size(0), s->samples().numel() / s->samples().size(0),
                            p);
    double v = diffusion::sliced_wasserstein(s->samples(), r->samples(), p, in.get_uint("seed"), ctx.collectives());
    auto m = make_metric("sliced_wasserstein", v,
                         std::to_string(s->samples().size(0)) + " samples vs " + std::to_string(r->samples().size(0)) +
                             " reference samples, " + std::to_string(p) + " projections",
                         *s);
    // Its 95 % interval (both sets resampled) and noise floor (from halves of the reference).
    auto measure = [&](const at::Tensor& a, const at::Tensor& b) {
      return diffusion::sliced_wasserstein_influence(a, b, p, in.get_uint("seed"));
    };
    ctx.progress(1, 3);
    annotate_two_sample_interval(*m, measure(s->samples(), r->samples()), OfMean::kSqrt);
    ctx.progress(2, 3);
    auto squared = [&](const at::Tensor& a, const at::Tensor& b) {
      const double w = diffusion::sliced_wasserstein(a, b, p, in.get_uint("seed"));
      return w * w;
    };
    annotate_reference_floor(*m, r->samples(), s->samples().size(0), in.get_uint("seed"), OfMean::kSqrt, measure,
                             squared);
    ctx.progress(3, 3);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
