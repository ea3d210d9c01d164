#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/metrics.h"

namespace sf::nodes {

NodeDef frechet_distance_node() {
  NodeContract c = Node(
      "FrechetDistance", kMetricCategory,
      "Frechet distance between Gaussians fitted to the two sets, on identity features or on a fixed random ReLU "
      "feature map (256 features, seeded). It is NOT Inception FID: no pretrained network is involved, so values are "
      "comparable only within one feature choice and one data space.",
      {Port("samples", "LATENT"), Port("reference_samples", "LATENT"), Combo("features", {"identity", "random_relu"}),
       Seed("seed")},
      {{"METRIC", "METRIC"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in.get<Latent>("samples");
    auto r = in.get<Latent>("reference_samples");
    check_same_sample_shape(*s, "samples", *r, "reference_samples");
    if (s->samples().size(0) < 2 || r->samples().size(0) < 2)
      throw InputError("samples", c10::str(s->samples().sizes()), "a covariance needs at least 2 samples per set");
    at::Tensor a = s->samples(), b = r->samples();
    if (in.get_string("features") == "random_relu") {
      auto seed = in.get_uint("seed");
      a = diffusion::random_features(a, 256, seed);
      b = diffusion::random_features(b, 256, seed);
    }
    double v = diffusion::frechet_distance(a, b);
    auto m = make_metric("frechet_" + in.get_string("features"), v,
                         std::to_string(s->samples().size(0)) + " vs " + std::to_string(r->samples().size(0)) +
                             " samples, " + in.get_string("features") + " features",
                         *s);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
