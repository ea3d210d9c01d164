#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<Latent> kReference{Port("reference", "LATENT")};

}  // namespace

NodeDef trajectory_error_node() {
  NodeContract c =
      Node("TrajectoryError", kMetricCategory,
           "RMS distance sqrt(mean ||x_i - ref_i||^2) to a reference solution from the same initial noise (e.g. "
           "the same sampler with 1000+ steps): the direct measure of discretisation error of deterministic "
           "samplers. The reference must have at least as many steps as the measured run.",
           {kSamples, kReference}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = kSamples(in);
    auto r = kReference(in);
    check_same_sample_shape(*s, kSamples.name(), *r, kReference.name());
    if (s->samples().size(0) != r->samples().size(0))
      throw InputError(kReference.name(), c10::str(r->samples().sizes()),
                       "trajectory error pairs samples with their reference: batch " +
                           std::to_string(r->samples().size(0)) + " vs " + std::to_string(s->samples().size(0)));
    if (r->steps > 0 && s->steps > 0 && r->steps < s->steps)
      throw InputError(kReference.name(), std::to_string(r->steps) + " steps",
                       "the reference has fewer steps (" + std::to_string(r->steps) + ") than the compared run (" +
                           std::to_string(s->steps) + ")");
    // Per-particle squared distances (every rank gets all of them): the RMS exactly as
    // diffusion::rms_distance computes it, and its interval.
    at::Tensor squared = diffusion::row_squared_distances(s->samples(), r->samples(), ctx.collectives());
    const double v = squared.mean().sqrt().item<double>();
    auto m = make_metric("trajectory_error", v,
                         std::to_string(s->samples().size(0)) + " samples vs a " + std::to_string(r->steps) + "-step " +
                             r->sampler + " reference",
                         *s);
    annotate_particle_interval(*m, squared, OfMean::kSqrt);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
