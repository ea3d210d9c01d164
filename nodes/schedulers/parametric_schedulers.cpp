#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {
Value sigmas_value(const diffusion::Sigmas& s) { return s.to_value(); }
}  // namespace

NodeDef karras_scheduler_node() {
  NodeContract c =
      Node("KarrasScheduler", kSchedulerCategory,
           "Karras et al. (2022): (smax^(1/rho) + r (smin^(1/rho) - smax^(1/rho)))^rho, r = linspace(0, 1, N), then 0.",
           {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
            Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("rho", 7.0, 0.0, 100.0)},
           {{"SIGMAS", "SIGMAS"}});
  c.constraints = {Less("sigma_min", "sigma_max")};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::karras(in.get_int("steps"), in.get_float("sigma_min"),
                                                  in.get_float("sigma_max"), in.get_float("rho")))};
  });
}

NodeDef exponential_scheduler_node() {
  NodeContract c =
      Node("ExponentialScheduler", kSchedulerCategory, "Geometric (log-linear) from sigma_max to sigma_min, then 0.",
           {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
            Float("sigma_min", 0.0291675, 0.0, 5000.0)},
           {{"SIGMAS", "SIGMAS"}});
  c.constraints = {Less("sigma_min", "sigma_max")};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(
        schedules::exponential(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max")))};
  });
}

NodeDef polyexponential_scheduler_node() {
  NodeContract c =
      Node("PolyexponentialScheduler", kSchedulerCategory,
           "Polynomial in log sigma: exp(r^rho (ln smax - ln smin) + ln smin), r = linspace(1, 0, N), then 0.",
           {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
            Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("rho", 1.0, 0.0, 100.0)},
           {{"SIGMAS", "SIGMAS"}});
  c.constraints = {Less("sigma_min", "sigma_max")};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(schedules::polyexponential(in.get_int("steps"), in.get_float("sigma_min"),
                                                           in.get_float("sigma_max"), in.get_float("rho")))};
  });
}

NodeDef vp_scheduler_node() {
  NodeContract c = Node("VPScheduler", kSchedulerCategory,
                        "Continuous VP: sqrt(expm1(beta_d t^2/2 + beta_min t)), t = linspace(1, eps_s, N), then 0.",
                        {Int("steps", 20, 1, 10000), Float("beta_d", 19.9, 0.0, 5000.0),
                         Float("beta_min", 0.1, 0.0, 5000.0), Float("eps_s", 0.001, 0.0, 1.0, 0.0001)},
                        {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{sigmas_value(
        schedules::vp(in.get_int("steps"), in.get_float("beta_d"), in.get_float("beta_min"), in.get_float("eps_s")))};
  });
}

NodeDef laplace_scheduler_node() {
  NodeContract c = Node(
      "LaplaceScheduler", kSchedulerCategory,
      "Laplace schedule (Tiankai et al. 2024), clamped to [sigma_min, sigma_max]. As in ComfyUI it has N values and "
      "NO trailing 0, so sampling ends at sigma_min.",
      {Int("steps", 20, 1, 10000), Float("sigma_max", 14.614642, 0.0, 5000.0),
       Float("sigma_min", 0.0291675, 0.0, 5000.0), Float("mu", 0.0, -10.0, 10.0, 0.1),
       Float("beta", 0.5, 0.0, 10.0, 0.1)},
      {{"SIGMAS", "SIGMAS"}});
  c.constraints = {Less("sigma_min", "sigma_max")};
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{
        sigmas_value(schedules::laplace(in.get_int("steps"), in.get_float("sigma_min"), in.get_float("sigma_max"),
                                        in.get_float("mu"), in.get_float("beta")))};
  });
}

}  // namespace sf::nodes
