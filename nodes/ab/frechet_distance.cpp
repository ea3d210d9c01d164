#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<Latent> kReferenceSamples{Port("reference_samples", "LATENT")};
const In<std::string> kFeatures{Combo("features", {"identity", "random_relu"})};
const In<uint64_t> kSeed{Seed("seed")};

}  // namespace

NodeDef frechet_distance_node() {
  NodeContract c = Node(
      "FrechetDistance", kMetricCategory,
      "Frechet distance between Gaussians fitted to the two sets, on identity features or on a fixed random ReLU "
      "feature map (256 features, seeded). It is NOT Inception FID: no pretrained network is involved, so values are "
      "comparable only within one feature choice and one data space. Carries its 95 % interval (both sets "
      "resampled) and, from 64 reference samples, its noise floor (two sets of the reference's distribution).",
      {kSamples, kReferenceSamples, kFeatures, kSeed}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = kSamples(in);
    auto r = kReferenceSamples(in);
    check_same_sample_shape(*s, kSamples.name(), *r, kReferenceSamples.name());
    if (s->samples().size(0) < 2 || r->samples().size(0) < 2)
      throw InputError(kSamples.name(), c10::str(s->samples().sizes()),
                       "a covariance needs at least 2 samples per set");
    const at::Tensor &a = s->samples(), &b = r->samples();
    diffusion::FeatureMap features;
    if (kFeatures(in) == "random_relu") features = diffusion::random_feature_map(a.numel() / a.size(0), 256, kSeed(in));
    double v = diffusion::frechet_distance(a, b, ctx.collectives(), features);
    auto m = make_metric("frechet_" + kFeatures(in), v,
                         std::to_string(s->samples().size(0)) + " vs " + std::to_string(r->samples().size(0)) +
                             " samples, " + kFeatures(in) + " features",
                         *s);
    // Its 95 % interval (both sets resampled) and noise floor (from halves of the reference).
    auto measure = [&](const at::Tensor& x, const at::Tensor& y) {
      return diffusion::frechet_influence(x, y, features);
    };
    ctx.progress(1, 3);
    annotate_two_sample_interval(*m, measure(a, b), OfMean::kIdentity);
    ctx.progress(2, 3);
    annotate_reference_floor(
        *m, b, a.size(0), kSeed(in), OfMean::kIdentity, measure,
        [&](const at::Tensor& x, const at::Tensor& y) { return diffusion::frechet_distance(x, y, nullptr, features); });
    ctx.progress(3, 3);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
