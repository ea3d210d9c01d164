#include "sigmaflow/scheduler/optimal_steps/step_rules.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/status.h"

namespace sf::oss {

namespace {

std::string supported_list() {
  std::string s;
  for (const auto& n : supported_samplers()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// ComfyUI sample_ipndm's fixed Adams-Bashforth weights, current derivative first.
std::vector<double> adams_bashforth(int order) {
  switch (order) {
    case 1:
      return {1.0};
    case 2:
      return {3.0 / 2, -1.0 / 2};
    case 3:
      return {23.0 / 12, -16.0 / 12, 5.0 / 12};
    default:
      return {55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24};
  }
}

// Weights on the derivatives (current first) -> weights on [x_i, D_i, h_1..h_k], with
// d_i = (x_i - D_i) / sigma_i and the step multiplied by `scale`.
std::vector<double> from_derivative_weights(const std::vector<double>& w, double sigma_i, double scale, size_t k) {
  std::vector<double> c(2 + k, 0.0);
  c[0] = 1.0 + scale * w[0] / sigma_i;
  c[1] = -scale * w[0] / sigma_i;
  for (size_t q = 1; q < w.size(); ++q) c[1 + q] = scale * w[q];
  return c;
}

}  // namespace

const std::vector<std::string>& supported_samplers() {
  static const std::vector<std::string> names = {"euler", "heun", "dpm_2", "lms", "dpmpp_2m", "ipndm", "ipndm_v"};
  return names;
}

StepRule step_rule(const std::string& sampler, const SamplerSettings& settings) {
  if (std::find(supported_samplers().begin(), supported_samplers().end(), sampler) == supported_samplers().end()) {
    const auto* entry = diffusion::find_sampler(sampler);
    std::string why = entry && entry->traits.stochastic ? "it is stochastic (its steps add fresh noise)"
                                                        : "it is not a deterministic sampler of the stock table";
    throw InputError("sampler", sampler,
                     "optimal_steps cannot optimise sampler '" + sampler + "': " + why +
                         "; supported samplers: " + supported_list());
  }
  if (settings.lower_order_final != LowerOrderFinal::kOff)
    throw InputError("lower_order_final", settings.lower_order_final == LowerOrderFinal::kOn ? "on" : "auto",
                     "optimal_steps needs lower_order_final off (the k-diffusion and ComfyUI behaviour): the order of "
                     "a step would then depend on the total step count, which the DP shares across all N");
  StepRule r;
  r.sampler_ = sampler;
  if (sampler == "euler" || sampler == "heun" || sampler == "dpm_2") {
    if (settings.s_churn > 0)
      throw InputError("s_churn", std::to_string(settings.s_churn),
                       "optimal_steps needs s_churn = 0: churn adds fresh noise, so the sampler is stochastic");
    r.two_evaluations_ = sampler != "euler";
  } else if (sampler == "dpmpp_2m") {
    r.history_ = HistoryKind::kDenoised;
    r.capacity_ = 1;
  } else {
    if (settings.max_order < 1 || settings.max_order > 4)
      throw InputError("max_order", std::to_string(settings.max_order), "max_order must be 1 to 4");
    r.history_ = HistoryKind::kDerivative;
    r.max_order_ = settings.max_order;
    r.capacity_ = settings.max_order - 1;
  }
  return r;
}

std::vector<double> StepRule::coefficients(double si, double sj, const std::vector<double>& past) const {
  const size_t k = past.size();
  if (sampler_ == "euler") return {sj / si, 1.0 - sj / si};
  if (sampler_ == "dpmpp_2m") {
    // sample_dpmpp_2m: x_j = (s_j/s_i) x_i - expm1(-h) [(1 + 1/2r) D_i - (1/2r) D_prev].
    const double h = std::log(si / sj), e = -std::expm1(-h);
    if (k == 0) return {sj / si, e};
    const double r = std::log(past[0] / si) / h;
    return {sj / si, e * (1 + 1 / (2 * r)), -e / (2 * r)};
  }
  const int order = std::min<int>(max_order_, static_cast<int>(k) + 1);
  if (sampler_ == "ipndm") return from_derivative_weights(adams_bashforth(order), si, sj - si, k);
  // The schedule as the table samplers see it: the past (oldest first), sigma_i, sigma_j.
  std::vector<double> s(past.rbegin(), past.rend());
  s.push_back(si);
  s.push_back(sj);
  const int64_t i = static_cast<int64_t>(k);
  if (sampler_ == "ipndm_v") {
    std::vector<double> w =
        order == 1 ? std::vector<double>{1.0} : diffusion::samplers::ipndm_v_coefficients(s, i, order);
    return from_derivative_weights(w, si, sj - si, k);
  }
  // lms: x_j = x_i + sum_q coeff(order, s, i, q) d_(i-q).
  std::vector<double> w(static_cast<size_t>(order));
  for (int q = 0; q < order; ++q)
    w[static_cast<size_t>(q)] = diffusion::samplers::linear_multistep_coeff(order, s, static_cast<int>(i), q);
  return from_derivative_weights(w, si, 1.0, k);
}

double StepRule::probe_sigma(double si, double sj) const {
  if (sampler_ == "dpm_2") return std::exp((std::log(si) + std::log(sj)) / 2);
  return sj;
}

at::Tensor StepRule::finish(const at::Tensor& x_i, const at::Tensor& den_i, double si, const at::Tensor& x_probe,
                            const at::Tensor& den_probe, const at::Tensor& sj, const at::Tensor& sp) const {
  if (sampler_ == "dpm_2") return x_i + (x_probe - den_probe) / sp * (sj - si);  // sample_dpm_2
  // sample_heun: the trapezoid of the derivatives at sigma_i and at the probe (= sigma_j).
  at::Tensor d_i = (x_i - den_i) / si;
  return x_i + (d_i + (x_probe - den_probe) / sj) * ((sj - si) / 2);
}

at::Tensor StepRule::history_item(const at::Tensor& x_i, const at::Tensor& den_i, double si) const {
  if (history_ == HistoryKind::kDenoised) return den_i;
  return (x_i - den_i) / si;
}

}  // namespace sf::oss
