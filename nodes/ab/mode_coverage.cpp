#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"

namespace sf::nodes {

NodeDef mode_coverage_node() {
  NodeContract c =
      Node("ModeCoverage", kMetricCategory,
           "For mixture models: total-variation distance between the fraction of samples nearest each "
           "component mean and the true weights (0 = every mode at its right mass).",
           {Port("samples", "LATENT"), Requires(Port("model", "MODEL"), kExactDensity)}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = in.get<Latent>("samples");
    auto model = in.get<Model>("model");
    const ExactDensity& exact = exact_of(*model, "model");
    at::Tensor means = exact.component_means(), weights = exact.component_weights();
    check_usable_samples(*s, "samples");
    if (s->samples().numel() / s->samples().size(0) != means.numel() / means.size(0))
      throw InputError("samples", c10::str(s->samples().sizes()), "samples do not match the model's sample size");
    double v = diffusion::mode_coverage_tv(s->samples(), means, weights, ctx.collectives());
    auto m = make_metric(
        "mode_coverage_tv", v,
        std::to_string(s->samples().size(0)) + " samples, " + std::to_string(means.size(0)) + " components", *s);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
