// Stochastic samplers that are not ancestral: DPM-Solver++ SDE variants, DDPM and LCM.
#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {}  // namespace

// k-diffusion sample_dpmpp_2m_sde: DPM-Solver++(2M) SDE, midpoint or heun second-order term.
at::Tensor dpmpp_2m_sde(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  if (o.solver_type != "midpoint" && o.solver_type != "heun")
    throw std::invalid_argument("solver_type must be midpoint or heun, got '" + o.solver_type + "'");
  at::Tensor old;
  double h_last = 0, h = 0;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si), prev = old;
    const double prev_h = h_last;
    old = den;
    if (sn != 0) {
      h = std::log(si) - std::log(sn);
      double eta_h = o.eta * h, h_eta = h + eta_h;
      x = (sn / si * std::exp(-eta_h)) * x + (-std::expm1(-h_eta)) * den;
      if (prev.defined() && order_cap(s, i, o.lower_order_final) >= 2) {
        double r = prev_h / h;
        double phi = o.solver_type == "heun" ? (-std::expm1(-h_eta)) / (-h_eta) + 1 : 0.5 * (-std::expm1(-h_eta));
        x = x + phi * (1 / r) * (den - prev);
      }
      if (o.eta > 0 && o.s_noise > 0) x = x + run.noise(x) * (sn * std::sqrt(-std::expm1(-2 * eta_h)) * o.s_noise);
    }
    h_last = h;
    return sn == 0 ? den : x;
  });
}

namespace {
// The history of dpmpp_3m_sde: the two previous denoised values and step sizes.
struct ThirdOrderHistory {
  at::Tensor d1, d2;
  double h1 = 0, h2 = 0;
  bool have1 = false, have2 = false;
  void push(const at::Tensor& den, double h) {
    d2 = d1;
    d1 = den;
    have2 = have1;
    have1 = true;
    h2 = h1;
    h1 = h;
  }
  // Adds the multistep correction to the first-order DPM-Solver++ SDE step x.
  at::Tensor corrected(const at::Tensor& x, const at::Tensor& den, double h, double h_eta, int cap) const {
    double phi2 = std::expm1(-h_eta) / h_eta + 1;
    if (have2 && cap >= 3) {
      double r0 = h1 / h, r1 = h2 / h;
      at::Tensor d1_0 = (den - d1) / r0, d1_1 = (d1 - d2) / r1;
      at::Tensor dd1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1));
      at::Tensor dd2 = (d1_0 - d1_1) / (r0 + r1);
      return x + phi2 * dd1 - (phi2 / h_eta - 0.5) * dd2;
    }
    if (have1 && cap >= 2) return x + phi2 * ((den - d1) / (h1 / h));
    return x;
  }
};
}  // namespace

// k-diffusion sample_dpmpp_3m_sde: DPM-Solver++(3M) SDE.
at::Tensor dpmpp_3m_sde(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  ThirdOrderHistory hist;
  double h = 0;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si);
    if (sn == 0) {
      x = den;
    } else {
      h = std::log(si) - std::log(sn);
      double h_eta = h * (o.eta + 1);
      x = (sn / si * std::exp(-h * o.eta)) * x + (-std::expm1(-h_eta)) * den;
      x = hist.corrected(x, den, h, h_eta, order_cap(s, i, o.lower_order_final));
      if (o.eta > 0 && o.s_noise > 0) x = x + run.noise(x) * (sn * std::sqrt(-std::expm1(-2 * h * o.eta)) * o.s_noise);
    }
    hist.push(den, h);
    return x;
  });
}

// ComfyUI sample_ddpm: the DDPM posterior step in VP space, mapped back to VE.
at::Tensor ddpm(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings&) {
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t, double si, double sn) {
    at::Tensor eps = (x - run.denoise(x, si)) / si;
    at::Tensor xv = x / std::sqrt(1.0 + si * si);  // VP-space state
    double ac = 1 / (si * si + 1), ac_prev = 1 / (sn * sn + 1), alpha = ac / ac_prev;
    at::Tensor mu = std::sqrt(1.0 / alpha) * (xv - (1 - alpha) * eps / std::sqrt(1 - ac));
    if (sn == 0) return mu;
    mu = mu + std::sqrt((1 - alpha) * (1 - ac_prev) / (1 - ac)) * run.noise(x);
    return mu * std::sqrt(1.0 + sn * sn);
  });
}

// ComfyUI sample_lcm: jump to the denoised estimate, then re-noise to the next sigma.
at::Tensor lcm(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t, double si, double sn) {
    x = run.denoise(x, si);
    return sn > 0 ? x + run.noise(x) * (sn * o.s_noise) : x;
  });
}

}  // namespace sf::diffusion::samplers
