// Multistep ODE samplers: they reuse earlier derivatives or denoised values (the history), and
// follow the lower_order_final rule of their settings.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <stdexcept>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
double at_(const std::vector<double>& s, int64_t i) { return s[static_cast<size_t>(i)]; }

void push_history(std::vector<at::Tensor>& buf, const at::Tensor& d, int capacity) {
  if (static_cast<int>(buf.size()) == capacity && capacity > 0) {
    for (int k = 0; k + 1 < capacity; ++k) buf[static_cast<size_t>(k)] = buf[static_cast<size_t>(k + 1)];
    buf.back() = d;
  } else {
    buf.push_back(d);
  }
}

}  // namespace

double linear_multistep_coeff(int order, const std::vector<double>& t, int i, int j) {
  if (order - 1 > i)
    throw std::invalid_argument("LMS order " + std::to_string(order) + " too high for step " + std::to_string(i));
  auto basis = [&](double tau) {
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == j) continue;
      prod *= (tau - t[static_cast<size_t>(i - k)]) / (t[static_cast<size_t>(i - j)] - t[static_cast<size_t>(i - k)]);
    }
    return prod;
  };
  // 4-point Gauss-Legendre is exact for polynomials up to degree 7 (the basis has degree <= 3).
  static const double xs[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
  static const double ws[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
  double a = t[static_cast<size_t>(i)], b = t[static_cast<size_t>(i + 1)];
  double half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
  for (int q = 0; q < 4; ++q) sum += ws[q] * basis(mid + half * xs[q]);
  return sum * half;
}

std::vector<double> ipndm_v_coefficients(const std::vector<double>& s, int64_t i, int order) {
  const double hn = at_(s, i + 1) - at_(s, i), hn1 = at_(s, i) - at_(s, i - 1);
  if (order == 2) return {(2 + hn / hn1) / 2, -(hn / hn1) / 2};
  const double hn2 = at_(s, i - 1) - at_(s, i - 2);
  const double temp1 = (1 - hn / (3 * (hn + hn1)) * (hn * (hn + hn1)) / (hn1 * (hn1 + hn2))) / 2;
  if (order == 3) return {(2 + hn / hn1) / 2 + temp1, -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp1, temp1 * hn1 / hn2};
  const double hn3 = at_(s, i - 2) - at_(s, i - 3);
  const double temp2 = ((1 - hn / (3 * (hn + hn1))) / 2 + (1 - hn / (2 * (hn + hn1))) * hn / (6 * (hn + hn1 + hn2))) *
                       (hn * (hn + hn1) * (hn + hn1 + hn2)) / (hn1 * (hn1 + hn2) * (hn1 + hn2 + hn3));
  const double q = hn1 * (hn1 + hn2) / (hn2 * (hn2 + hn3));
  return {(2 + hn / hn1) / 2 + temp1 + temp2, -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp1 - (1 + hn1 / hn2 + q) * temp2,
          temp1 * hn1 / hn2 + (hn1 / hn2 + q * (1 + hn2 / hn3)) * temp2, -temp2 * q * hn1 / hn2};
}

// k-diffusion sample_lms: linear multistep on the derivative, order up to settings.max_order.
at::Tensor lms(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::deque<at::Tensor> ds;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si);
    ds.push_back(derivative(x, si, den));
    if (static_cast<int>(ds.size()) > o.max_order) ds.pop_front();
    if (sn == 0) return den;
    int order = std::min<int>({static_cast<int>(i + 1), o.max_order, order_cap(s, i, o.lower_order_final)});
    for (int j = 0; j < order; ++j)
      x = x + ds[ds.size() - 1 - static_cast<size_t>(j)] * linear_multistep_coeff(order, s, static_cast<int>(i), j);
    return x;
  });
}

// k-diffusion sample_dpmpp_2m: DPM-Solver++(2M) in t = -ln sigma; first order on the first step.
at::Tensor dpmpp_2m(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  at::Tensor old;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si), prev = old;
    old = den;
    if (sn == 0) return den;
    double t = -std::log(si), h = -std::log(sn) - t;
    if (!prev.defined() || order_cap(s, i, o.lower_order_final) < 2) return (sn / si) * x - std::expm1(-h) * den;
    double r = (t + std::log(at_(s, i - 1))) / h;  // h_last / h
    at::Tensor dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * prev;
    return (sn / si) * x - std::expm1(-h) * dd;
  });
}

// ComfyUI sample_ipndm: Adams-Bashforth on the derivative with fixed coefficients.
at::Tensor ipndm(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::vector<at::Tensor> buf;  // earlier derivatives, oldest first, at most max_order - 1
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double tc, double tn) {
    at::Tensor den = run.denoise(x, tc);
    at::Tensor d = (x - den) / tc;
    int order = std::min<int>({o.max_order, static_cast<int>(i + 1), order_cap(s, i, o.lower_order_final)});
    const size_t b = buf.size();
    const double dt = tn - tc;
    if (tn == 0)
      x = den;
    else if (order == 1)
      x = x + dt * d;
    else if (order == 2)
      x = x + dt * (3 * d - buf[b - 1]) / 2;
    else if (order == 3)
      x = x + dt * (23 * d - 16 * buf[b - 1] + 5 * buf[b - 2]) / 12;
    else
      x = x + dt * (55 * d - 59 * buf[b - 1] + 37 * buf[b - 2] - 9 * buf[b - 3]) / 24;
    push_history(buf, d, o.max_order - 1);
    return x;
  });
}

// ComfyUI sample_ipndm_v: Adams-Bashforth with coefficients for variable step sizes.
at::Tensor ipndm_v(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::vector<at::Tensor> buf;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double tc, double tn) {
    at::Tensor den = run.denoise(x, tc);
    at::Tensor d = (x - den) / tc;
    int order = std::min<int>({o.max_order, static_cast<int>(i + 1), order_cap(s, i, o.lower_order_final)});
    if (tn == 0) {
      x = den;
    } else if (order == 1) {
      x = x + (tn - tc) * d;
    } else {
      auto c = ipndm_v_coefficients(s, i, order);
      at::Tensor sum = c[0] * d;
      for (size_t k = 1; k < c.size(); ++k) sum = sum + c[k] * buf[buf.size() - k];
      x = x + (tn - tc) * sum;
    }
    push_history(buf, d, o.max_order - 1);
    return x;
  });
}

}  // namespace sf::diffusion::samplers
