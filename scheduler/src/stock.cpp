#include "sigmaflow/scheduler/stock.h"

#include <algorithm>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <stdexcept>

#include "sigmaflow/status.h"

namespace sf::schedules {

namespace {
std::string num(double v) { return number_text(v); }
}  // namespace

void check_range(int64_t n, double sigma_min, double sigma_max) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  if (!std::isfinite(sigma_min) || !std::isfinite(sigma_max))
    throw InputError(std::isfinite(sigma_min) ? "sigma_max" : "sigma_min", "",
                     "sigma_min and sigma_max must be finite");
  if (!(sigma_min > 0)) throw InputError("sigma_min", num(sigma_min), "sigma_min must be > 0, got " + num(sigma_min));
  if (!(sigma_min < sigma_max))
    throw InputError("sigma_min", num(sigma_min),
                     "sigma_min (" + num(sigma_min) + ") must be < sigma_max (" + num(sigma_max) + ")");
}

std::vector<double> linspace(double a, double b, int64_t n) {
  std::vector<double> out;
  if (n <= 0) return out;
  out.reserve(static_cast<size_t>(n));
  if (n == 1) {
    out.push_back(a);
    return out;
  }
  // torch.linspace: the first half from a, the second half from b, for symmetric rounding.
  double step = (b - a) / static_cast<double>(n - 1);
  int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(i < half ? a + step * static_cast<double>(i) : b - step * static_cast<double>(n - 1 - i));
  return out;
}

Sigmas karras(int64_t n, double sigma_min, double sigma_max, double rho) {
  check_range(n, sigma_min, sigma_max);
  if (!(rho > 0)) throw InputError("rho", num(rho), "rho must be > 0, got " + num(rho));
  double min_inv = std::pow(sigma_min, 1.0 / rho), max_inv = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> s;
  for (double r : linspace(0, 1, n)) s.push_back(std::pow(max_inv + r * (min_inv - max_inv), rho));
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas exponential(int64_t n, double sigma_min, double sigma_max) {
  check_range(n, sigma_min, sigma_max);
  std::vector<double> s;
  for (double l : linspace(std::log(sigma_max), std::log(sigma_min), n)) s.push_back(std::exp(l));
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas polyexponential(int64_t n, double sigma_min, double sigma_max, double rho) {
  check_range(n, sigma_min, sigma_max);
  if (!(rho > 0)) throw InputError("rho", num(rho), "rho must be > 0, got " + num(rho));
  std::vector<double> s;
  double lmin = std::log(sigma_min), lmax = std::log(sigma_max);
  for (double r : linspace(1, 0, n)) s.push_back(std::exp(std::pow(r, rho) * (lmax - lmin) + lmin));
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas vp(int64_t n, double beta_d, double beta_min, double eps_s) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  if (!(eps_s > 0) || eps_s >= 1) throw InputError("eps_s", num(eps_s), "eps_s must be in (0, 1), got " + num(eps_s));
  if (!(beta_d >= 0) || !(beta_min >= 0) || beta_d + beta_min <= 0)
    throw InputError("beta_d", num(beta_d), "beta_d and beta_min must be >= 0 and not both 0");
  std::vector<double> s;
  for (double t : linspace(1, eps_s, n)) s.push_back(std::sqrt(std::expm1(beta_d * t * t / 2 + beta_min * t)));
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas laplace(int64_t n, double sigma_min, double sigma_max, double mu, double beta) {
  check_range(n, sigma_min, sigma_max);
  const double eps = 1e-5;
  std::vector<double> s;
  for (double x : linspace(0, 1, n)) {
    double d = 0.5 - x;
    double sign = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
    double lmb = mu - beta * sign * std::log(1 - 2 * std::fabs(d) + eps);
    s.push_back(std::clamp(std::exp(lmb), sigma_min, sigma_max));
  }
  return Sigmas(std::move(s));
}

Sigmas kl_optimal(int64_t n, double sigma_min, double sigma_max) {
  check_range(n, sigma_min, sigma_max);
  std::vector<double> s;
  for (int64_t i = 0; i < n; ++i) {
    double a = n == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
    s.push_back(std::tan(a * std::atan(sigma_min) + (1 - a) * std::atan(sigma_max)));
  }
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas linear_quadratic(int64_t n, double sigma_max, double threshold_noise, int64_t linear_steps) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  std::vector<double> sched;
  if (n == 1) {
    sched = {1.0, 0.0};
  } else {
    if (linear_steps < 0) linear_steps = n / 2;
    double ls = static_cast<double>(linear_steps), N = static_cast<double>(n);
    for (int64_t i = 0; i < linear_steps; ++i) sched.push_back(static_cast<double>(i) * threshold_noise / ls);
    double diff = ls - threshold_noise * N;
    double qs = N - ls;
    double quad = diff / (ls * qs * qs);
    double lin = threshold_noise / ls - 2 * diff / (qs * qs);
    double c = quad * ls * ls;
    for (int64_t i = linear_steps; i < n; ++i) {
      double x = static_cast<double>(i);
      sched.push_back(quad * x * x + lin * x + c);
    }
    sched.push_back(1.0);
    for (double& v : sched) v = 1.0 - v;
  }
  for (double& v : sched) v *= sigma_max;
  return Sigmas(std::move(sched));
}

Sigmas simple(int64_t n, const std::vector<double>& table) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  std::vector<double> s;
  double ss = static_cast<double>(table.size()) / static_cast<double>(n);
  for (int64_t x = 0; x < n; ++x) {
    auto idx = static_cast<int64_t>(table.size()) - 1 - static_cast<int64_t>(static_cast<double>(x) * ss);
    s.push_back(table.at(static_cast<size_t>(idx)));
  }
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas ddim_uniform(int64_t n, const std::vector<double>& table) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  std::vector<double> s;
  size_t x = 1;
  int64_t steps = n;
  if (std::fabs(table.at(x)) <= 1e-5) {
    steps += 1;
  } else {
    s.push_back(0.0);
  }
  size_t ss = std::max<size_t>(table.size() / static_cast<size_t>(steps), 1);
  while (x < table.size()) {
    s.push_back(table[x]);
    x += ss;
  }
  std::reverse(s.begin(), s.end());
  return Sigmas(std::move(s));
}

Sigmas normal(int64_t n, const TimeMap& m, bool sgm) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  double start = m.timestep(m.model, m.sigma_max), end = m.timestep(m.model, m.sigma_min);
  bool append_zero = true;
  std::vector<double> ts;
  if (sgm) {
    ts = linspace(start, end, n + 1);
    ts.pop_back();
  } else {
    int64_t steps = n;
    if (std::fabs(m.sigma_at(m.model, end)) <= 1e-5) {
      steps += 1;
      append_zero = false;
    }
    ts = linspace(start, end, steps);
  }
  std::vector<double> s;
  for (double t : ts) s.push_back(m.sigma_at(m.model, t));
  if (append_zero) s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas beta(int64_t n, const std::vector<double>& table, double alpha, double b) {
  if (n < 1) throw InputError("steps", std::to_string(n), "steps must be >= 1, got " + std::to_string(n));
  if (!(alpha > 0) || !(b > 0))
    throw InputError(alpha > 0 ? "beta" : "alpha", num(alpha > 0 ? b : alpha), "alpha and beta must be > 0");
  double total = static_cast<double>(table.size() - 1);
  std::vector<double> s;
  double last = -1;
  for (int64_t i = 0; i < n; ++i) {
    double q = 1.0 - static_cast<double>(i) / static_cast<double>(n);  // 1 - linspace(0,1,n,endpoint=False)
    double t = std::nearbyint(boost::math::ibeta_inv(alpha, b, q) * total);
    if (t != last) s.push_back(table.at(static_cast<size_t>(t)));
    last = t;
  }
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

const std::vector<double>& ays_table(const std::string& model_type) {
  static const std::vector<double> sd1 = {14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520,
                                          1.8841921177,  1.3943805092, 0.9642583904, 0.6523686016,
                                          0.3977456272,  0.1515232662, 0.0291671582};
  static const std::vector<double> sdxl = {14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769,
                                           1.3405244945,  0.8620721141, 0.5550693289, 0.3798540708,
                                           0.2332364134,  0.1114188177, 0.0291671582};
  static const std::vector<double> svd = {700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002};
  if (model_type == "SD1") return sd1;
  if (model_type == "SDXL") return sdxl;
  if (model_type == "SVD") return svd;
  throw InputError("model_type", model_type,
                   "unknown Align Your Steps model_type '" + model_type + "' (SD1, SDXL, SVD)");
}

std::vector<double> loglinear_interp(const std::vector<double>& desc, int64_t n) {
  if (desc.size() < 2)
    throw InputError("sigmas", std::to_string(desc.size()) + " values",
                     "log-linear resampling needs at least 2 sigmas");
  for (double v : desc)
    if (!(v > 0) || !std::isfinite(v))
      throw InputError("sigmas", num(v),
                       "log-linear resampling needs positive finite sigmas, got " + num(v) +
                           " (a list ending in 0 cannot be log-resampled)");
  // Work from the small end, as AYS's reference implementation does.
  std::vector<double> ys(desc.rbegin(), desc.rend());
  for (double& y : ys) y = std::log(y);
  auto xs = linspace(0, 1, static_cast<int64_t>(desc.size()));
  auto nx = linspace(0, 1, n);
  std::vector<double> out;
  for (double x : nx) {
    // numpy.interp
    size_t j = static_cast<size_t>(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin());
    double y;
    if (j == 0)
      y = ys.front();
    else if (j >= xs.size())
      y = ys.back();
    else
      y = ys[j - 1] + (x - xs[j - 1]) * (ys[j] - ys[j - 1]) / (xs[j] - xs[j - 1]);
    out.push_back(std::exp(y));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Sigmas uniform(int64_t n, double sigma_min, double sigma_max) {
  check_range(n, sigma_min, sigma_max);
  std::vector<double> s = linspace(sigma_max, sigma_min, n);
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas ays_like(int64_t n, double sigma_min, double sigma_max) {
  check_range(n, sigma_min, sigma_max);
  const auto& t = ays_table("SD1");
  double lo = std::log(t.back()), hi = std::log(t.front());
  std::vector<double> mapped;
  for (double v : t)
    mapped.push_back(
        std::exp(std::log(sigma_min) + (std::log(v) - lo) / (hi - lo) * (std::log(sigma_max) - std::log(sigma_min))));
  std::vector<double> s = n == 1 ? std::vector<double>{sigma_max} : loglinear_interp(mapped, n);
  s.front() = sigma_max;
  s.back() = n == 1 ? sigma_max : sigma_min;
  s.push_back(0.0);
  return Sigmas(std::move(s));
}

Sigmas align_your_steps(const std::string& model_type, int64_t steps, double denoise) {
  if (steps < 1) throw InputError("steps", std::to_string(steps), "steps must be >= 1, got " + std::to_string(steps));
  int64_t total = steps;
  if (denoise < 1.0) {
    if (denoise <= 0.0) return {};
    total = static_cast<int64_t>(std::nearbyint(static_cast<double>(steps) * denoise));
  }
  std::vector<double> s = ays_table(model_type);
  if (static_cast<int64_t>(s.size()) != steps + 1) s = loglinear_interp(s, steps + 1);
  if (total + 1 < static_cast<int64_t>(s.size())) s.erase(s.begin(), s.end() - (total + 1));
  s.back() = 0.0;
  return Sigmas(std::move(s));
}

}  // namespace sf::schedules
