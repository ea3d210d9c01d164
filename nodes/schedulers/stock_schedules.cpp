// Named schedules computed from a MODEL, offered to BasicScheduler, KSampler and sweeps.
#include <ATen/ATen.h>

#include <cmath>

#include "nodes.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {

schedules::TimeMap time_map_of(const Model& m) {
  schedules::TimeMap tm;
  tm.sigma_min = m.sigma_min();
  tm.sigma_max = m.sigma_max();
  tm.model = &m;
  tm.timestep = [](const void* p, double s) { return static_cast<const Model*>(p)->timestep(s); };
  tm.sigma_at = [](const void* p, double t) { return static_cast<const Model*>(p)->sigma_at(t); };
  return tm;
}

// karras(5, 0.1, 10) against values computed by hand from its formula.
Status karras_self_test() {
  auto s = schedules::karras(3, 0.1, 10.0, 7.0);
  double mid = std::pow((std::pow(10.0, 1 / 7.0) + std::pow(0.1, 1 / 7.0)) / 2, 7.0);
  if (s.size() != 4 || std::fabs(s[0] - 10) > 1e-12 || std::fabs(s[1] - mid) > 1e-12 || std::fabs(s[2] - 0.1) > 1e-12 ||
      s[3] != 0)
    return Internal("karras(3, 0.1, 10) does not match its formula");
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& comfy_scheduler_names() {
  static const std::vector<std::string> names = {"simple",      "sgm_uniform",      "karras",
                                                 "exponential", "ddim_uniform",     "beta",
                                                 "normal",      "linear_quadratic", "kl_optimal"};
  return names;
}

std::vector<ScheduleDef> stock_schedules() {
  using namespace schedules;
  using Fn = std::function<Sigmas(const Model&, int64_t)>;
  std::vector<ScheduleDef> out;
  auto add = [&](const char* name, const char* desc, Fn fn) {
    out.push_back(
        make_schedule(name, desc, [fn](const Model& m, int64_t n, const ScheduleHints&) { return fn(m, n).values(); }));
  };
  add("simple", "every len/N-th entry of the model's sigma table, from the top",
      [](const Model& m, int64_t n) { return simple(n, m.sigma_table()); });
  add("sgm_uniform", "uniform in model time over N+1 points, the last dropped",
      [](const Model& m, int64_t n) { return normal(n, time_map_of(m), true); });
  add("karras", "Karras et al. 2022, rho = 7",
      [](const Model& m, int64_t n) { return karras(n, m.sigma_min(), m.sigma_max()); });
  add("exponential", "log-linear (geometric) between sigma_max and sigma_min",
      [](const Model& m, int64_t n) { return exponential(n, m.sigma_min(), m.sigma_max()); });
  add("ddim_uniform", "DDIM's uniform stride over the model's sigma table",
      [](const Model& m, int64_t n) { return ddim_uniform(n, m.sigma_table()); });
  add("beta", "Beta(0.6, 0.6) quantiles of the table index",
      [](const Model& m, int64_t n) { return beta(n, m.sigma_table()); });
  add("normal", "uniform in model time from timestep(sigma_max) to timestep(sigma_min)",
      [](const Model& m, int64_t n) { return normal(n, time_map_of(m), false); });
  add("linear_quadratic", "linear then quadratic (flow models)",
      [](const Model& m, int64_t n) { return linear_quadratic(n, m.sigma_max()); });
  add("kl_optimal", "KL-optimal (Align Your Steps appendix)",
      [](const Model& m, int64_t n) { return kl_optimal(n, m.sigma_min(), m.sigma_max()); });
  add("align_your_steps",
      "AYS-like: the SD1 Align Your Steps table's shape in log sigma, mapped onto the model's range",
      [](const Model& m, int64_t n) { return ays_like(n, m.sigma_min(), m.sigma_max()); });
  add("uniform", "uniform in sigma: linspace(sigma_max, sigma_min, N), then 0",
      [](const Model& m, int64_t n) { return uniform(n, m.sigma_min(), m.sigma_max()); });
  out[2].self_test = karras_self_test;
  for (auto& def : out)
    if (def.name == "ddim_uniform" || def.name == "beta") def.fixed_length = false;  // as in ComfyUI
  return out;
}

}  // namespace sf::nodes
