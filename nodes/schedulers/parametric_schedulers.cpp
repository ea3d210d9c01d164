#include "sigmaflow/diffusion/sigmas.h"
#include "nodes.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {
Value sigmas_value(std::vector<double> s) { return diffusion::Sigmas(std::move(s)).to_value(); }
}  // namespace

NodeDef karras_scheduler_node() {
  NodeContract c;
  c.class_type = "KarrasScheduler";
  c.category = kSchedulerCategory;
  c.description = "Karras et al. (2022): (smax^(1/rho) + r (smin^(1/rho) - smax^(1/rho)))^rho, r = linspace(0, 1, N), then 0.";
  c.inputs = {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
              Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("rho", 7.0, 0.0, 100.0)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::karras(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max"),
                               in.get_float("rho")))};
  });
}

NodeDef exponential_scheduler_node() {
  NodeContract c;
  c.class_type = "ExponentialScheduler";
  c.category = kSchedulerCategory;
  c.description = "Geometric (log-linear) from sigma_max to sigma_min, then 0.";
  c.inputs = {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
              Float("sigma_min", 0.0291675, 0.0, 5000.0)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::exponential(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max")))};
  });
}

NodeDef polyexponential_scheduler_node() {
  NodeContract c;
  c.class_type = "PolyexponentialScheduler";
  c.category = kSchedulerCategory;
  c.description = "Polynomial in log sigma: exp(r^rho (ln smax - ln smin) + ln smin), r = linspace(1, 0, N), then 0.";
  c.inputs = {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
              Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("rho", 1.0, 0.0, 100.0)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::polyexponential(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max"),
                                        in.get_float("rho")))};
  });
}

NodeDef vp_scheduler_node() {
  NodeContract c;
  c.class_type = "VPScheduler";
  c.category = kSchedulerCategory;
  c.description = "Continuous VP: sqrt(expm1(beta_d t^2/2 + beta_min t)), t = linspace(1, eps_s, N), then 0.";
  c.inputs = {Int("steps", 20, 1, 10000), Float("beta_d", 19.9, 0.0, 5000.0), Float("beta_min", 0.1, 0.0, 5000.0),
              Float("eps_s", 0.001, 0.0, 1.0, 0.0001)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::vp(in.get_int("steps"), in.get_float("beta_d"), in.get_float("beta_min"), in.get_float("eps_s")))};
  });
}

NodeDef laplace_scheduler_node() {
  NodeContract c;
  c.class_type = "LaplaceScheduler";
  c.category = kSchedulerCategory;
  c.description =
      "Laplace schedule (Tiankai et al. 2024), clamped to [sigma_min, sigma_max]. As in ComfyUI it has N values and "
      "NO trailing 0, so sampling ends at sigma_min.";
  c.inputs = {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
              Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("mu", 0.0, -10.0, 10.0, 0.1),
              Float("beta", 0.5, 0.0, 10.0, 0.1)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::laplace(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max"),
                                in.get_float("mu"), in.get_float("beta")))};
  });
}

}  // namespace sf::nodes
