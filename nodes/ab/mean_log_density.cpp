#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<Model> kModel{Requires(Port("model", "MODEL"), kExactDensity)};

}  // namespace

NodeDef mean_log_density_node() {
  NodeContract c = Node("MeanLogDensity", kMetricCategory,
                        "Mean log-density of the samples under an exact model's data distribution (higher is better; "
                        "samples between modes score low).",
                        {kSamples, kModel}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = kSamples(in);
    auto model = kModel(in);
    check_usable_samples(*s, kSamples.name());
    const ExactDensity& exact = exact_of(*model, kModel.name());
    const at::Tensor& x = s->samples();
    // Per-row log-densities, each rank its share of the rows under torchrun.
    at::Tensor lp = diffusion::rows_gathered(ctx.collectives(), x.size(0), [&](int64_t begin, int64_t end) {
      return exact.log_density(x.narrow(0, begin, end - begin), 0.0);
    });
    auto m = make_metric("mean_log_density", lp.mean().item<double>(),
                         std::to_string(s->samples().size(0)) + " samples under the exact density", *s, false);
    annotate_particle_interval(*m, lp, OfMean::kIdentity);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
