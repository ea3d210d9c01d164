#include <ATen/ATen.h>

#include "nodes.h"

namespace sf::nodes {

std::shared_ptr<Metric> make_metric(const std::string& name, double value, const std::string& computed_on,
                                    const Latent& s, bool lower_is_better) {
  auto m = std::make_shared<Metric>();
  m->name = name;
  m->value = value;
  m->lower_is_better = lower_is_better;
  m->computed_on = computed_on;
  m->nfe = s.nfe;
  m->steps = s.steps;
  m->wall_seconds = s.wall_seconds;
  m->sampler = s.sampler;
  return m;
}

const ExactDensity& exact_of(const Model& model, const std::string& input) {
  const ExactDensity* e = model.exact();
  if (!e) throw InputError(input, model.describe(), "this model has no exact density (it needs a mixture model)");
  return *e;
}

void check_same_sample_shape(const Latent& a, const std::string& an, const Latent& b, const std::string& bn) {
  const at::Tensor &x = a.samples(), &y = b.samples();
  if (x.dim() < 1 || x.size(0) == 0) throw InputError(an, c10::str(x.sizes()), "the batch is empty");
  if (y.dim() < 1 || y.size(0) == 0) throw InputError(bn, c10::str(y.sizes()), "the batch is empty");
  if (x.sizes().slice(1) != y.sizes().slice(1))
    throw InputError(bn, c10::str(y.sizes()),
                     "sample shape " + c10::str(y.sizes().slice(1)) + " does not match " + an + "'s " +
                         c10::str(x.sizes().slice(1)));
}

}  // namespace sf::nodes
