// Example nodes for sigmaflow, written against the installed SDK only:
// - a "cosine" schedule, registered by name (so BasicScheduler and KSampler offer it) and as a node;
// - a custom value type SIGMA_RANGE made by one node and consumed by another;
// - a sampler, "ralston" (my_sampler.cpp), offered by KSamplerSelect, KSampler and sweeps.
#include <ATen/ATen.h>
#include <sigmaflow/plugin.h>

#include <cmath>

namespace {

// log sigma moves along half a cosine from sigma_max to sigma_min: small steps at both ends.
// steps + 1 values ending in 0, as every named schedule must return.
std::vector<double> cosine_sigmas(double smin, double smax, int64_t steps) {
  if (steps < 1) throw sf::InputError("steps", std::to_string(steps), "steps must be >= 1");
  if (!(smin > 0 && smin < smax))
    throw sf::InputError("sigma_min", std::to_string(smin), "need 0 < sigma_min < sigma_max");
  std::vector<double> s(static_cast<size_t>(steps + 1), 0.0);
  for (int64_t i = 0; i < steps; ++i) {
    double u = steps == 1 ? 0.0 : (1 - std::cos(M_PI * static_cast<double>(i) / static_cast<double>(steps - 1))) / 2;
    s[static_cast<size_t>(i)] = std::exp(std::log(smax) + u * (std::log(smin) - std::log(smax)));
  }
  return s;
}

// SIGMAS travel as 1-D float32 CPU tensors.
sf::Value sigmas_value(const std::vector<double>& s) {
  at::Tensor t = at::empty({static_cast<int64_t>(s.size())}, at::kFloat);
  for (size_t i = 0; i < s.size(); ++i) t[static_cast<int64_t>(i)] = s[i];
  return sf::Value("SIGMAS", t);
}

// The custom value: an immutable pair of noise levels.
class SigmaRange : public sf::Object {
 public:
  SigmaRange(double lo, double hi) : lo(lo), hi(hi) {}
  std::string type_name() const override { return "SIGMA_RANGE"; }
  std::string describe() const override {
    return "SIGMA_RANGE [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  }
  const double lo, hi;
};

}  // namespace

sf::SamplerDef ralston_sampler_def();  // my_sampler.cpp

SIGMAFLOW_PLUGIN("my_nodes", "1.0.0") {
  using namespace sf;
  registrar.add_schedule(
      make_schedule("cosine", "half-cosine in log sigma", [](const Model& m, int64_t steps, const ScheduleHints&) {
        return cosine_sigmas(m.sigma_min(), m.sigma_max(), steps);
      }));
  registrar.add_sampler(ralston_sampler_def());

  NodeContract cos;
  cos.class_type = "CosineScheduler";
  cos.category = "sampling/custom_sampling/schedulers";
  cos.description = "Half-cosine in log sigma between the model's sigma_max and sigma_min, then 0.";
  cos.inputs = {Port("model", "MODEL"), Int("steps", 20, 1, 10000)};
  cos.outputs = {{"SIGMAS", "SIGMAS"}};
  registrar.add_node(make_node(cos, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    return Outputs{sigmas_value(cosine_sigmas(model->sigma_min(), model->sigma_max(), in.get_int("steps")))};
  }));

  NodeContract range;
  range.class_type = "SigmaRange";
  range.category = "examples";
  range.inputs = {Float("sigma_min", 0.002, 0.0, 1e4), Float("sigma_max", 80.0, 0.0, 1e5)};
  // Checked by `sigmaflow validate` before anything runs, and again in execute.
  range.constraints = {Less("sigma_min", "sigma_max")};
  range.outputs = {{"SIGMA_RANGE", "range"}};
  registrar.add_node(make_node(range, [](Context&, const Inputs& in) {
    double lo = in.get_float("sigma_min"), hi = in.get_float("sigma_max");
    if (!(lo > 0 && lo < hi)) throw InputError("sigma_min", std::to_string(lo), "need 0 < sigma_min < sigma_max");
    return Outputs{Value(std::make_shared<SigmaRange>(lo, hi))};
  }));

  NodeContract use;
  use.class_type = "RangeCosineScheduler";
  use.category = "examples";
  use.inputs = {Port("range", "SIGMA_RANGE"), Int("steps", 10, 1, 10000)};
  use.outputs = {{"SIGMAS", "SIGMAS"}};
  registrar.add_node(make_node(use, [](Context&, const Inputs& in) {
    auto r = in.get<SigmaRange>("range");
    return Outputs{sigmas_value(cosine_sigmas(r->lo, r->hi, in.get_int("steps")))};
  }));
}
