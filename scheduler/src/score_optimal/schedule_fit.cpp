#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sf::so {

double point_mass_cost(double s, double sn, int64_t dim) {
  double r = s / sn - sn / s;
  return static_cast<double>(dim) * r * r;
}

std::vector<double> effective_costs(const CostCurve& c, const FitOptions& o) {
  if (c.grid.size() != c.cost.size() + 1 || c.cost.empty())
    throw std::invalid_argument("cost curve needs T >= 1 costs on T + 1 grid points");
  std::vector<double> out(c.cost.size());
  double mx = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    double v = c.cost[i];
    if (!std::isfinite(v) || v < 0)
      throw std::invalid_argument("interval cost " + std::to_string(i) + " is not a finite non-negative number");
    if (o.floor > 0) v += o.floor * point_mass_cost(c.grid[i], c.grid[i + 1], c.dim);
    out[i] = v;
    mx = std::max(mx, v);
  }
  if (!(mx > 0)) {
    // No signal at all: fall back to the scale-free prior (a geometric schedule).
    for (size_t i = 0; i < out.size(); ++i) out[i] = point_mass_cost(c.grid[i], c.grid[i + 1], c.dim);
    mx = *std::max_element(out.begin(), out.end());
  }
  for (double& v : out) v = std::max(v, o.relative_floor * mx);
  return out;
}

std::vector<double> cumulative_length(const std::vector<double>& costs) {
  std::vector<double> lam(costs.size() + 1, 0.0);
  for (size_t i = 0; i < costs.size(); ++i) lam[i + 1] = lam[i] + std::sqrt(costs[i]);
  return lam;
}

Pchip::Pchip(std::vector<double> xs, std::vector<double> ys) : xs_(std::move(xs)), ys_(std::move(ys)) {
  const size_t n = xs_.size();
  if (n < 2 || ys_.size() != n) throw std::invalid_argument("PCHIP needs at least 2 matching points");
  std::vector<double> h(n - 1), delta(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) {
    h[i] = xs_[i + 1] - xs_[i];
    if (!(h[i] > 0)) throw std::invalid_argument("PCHIP abscissae must be strictly increasing");
    delta[i] = (ys_[i + 1] - ys_[i]) / h[i];
  }
  slopes_.assign(n, 0.0);
  if (n == 2) {
    slopes_[0] = slopes_[1] = delta[0];
    return;
  }
  // Interior: weighted harmonic mean (Fritsch-Butland form used by SciPy's PchipInterpolator).
  for (size_t i = 1; i + 1 < n; ++i) {
    if (delta[i - 1] * delta[i] <= 0) {
      slopes_[i] = 0;
    } else {
      double w1 = 2 * h[i] + h[i - 1], w2 = h[i] + 2 * h[i - 1];
      slopes_[i] = (w1 + w2) / (w1 / delta[i - 1] + w2 / delta[i]);
    }
  }
  // Ends: one-sided three-point estimate, clipped to keep monotonicity.
  auto end_slope = [](double h0, double h1, double d0, double d1) {
    double d = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
    if (d * d0 <= 0) return 0.0;
    if (d0 * d1 <= 0 && std::fabs(d) > std::fabs(3 * d0)) return 3 * d0;
    return d;
  };
  slopes_[0] = end_slope(h[0], h[1], delta[0], delta[1]);
  slopes_[n - 1] = end_slope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
}

double Pchip::operator()(double x) const {
  if (x <= xs_.front()) return ys_.front();
  if (x >= xs_.back()) return ys_.back();
  size_t i = static_cast<size_t>(std::upper_bound(xs_.begin(), xs_.end(), x) - xs_.begin()) - 1;
  double h = xs_[i + 1] - xs_[i], t = (x - xs_[i]) / h;
  double t2 = t * t, t3 = t2 * t;
  double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + t, h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
  return h00 * ys_[i] + h10 * h * slopes_[i] + h01 * ys_[i + 1] + h11 * h * slopes_[i + 1];
}

std::vector<double> fit_schedule(const CostCurve& c, int64_t steps, const FitOptions& o,
                                 std::vector<double>* cumulative) {
  if (steps < 1) throw std::invalid_argument("steps must be >= 1, got " + std::to_string(steps));
  for (size_t i = 0; i + 1 < c.grid.size(); ++i)
    if (!(c.grid[i] > c.grid[i + 1]) || !(c.grid[i + 1] > 0))
      throw std::invalid_argument("the cost grid must be strictly descending and positive");
  std::vector<double> lam = cumulative_length(effective_costs(c, o));
  if (cumulative) *cumulative = lam;
  std::vector<double> log_sigma(c.grid.size());
  for (size_t i = 0; i < c.grid.size(); ++i) log_sigma[i] = std::log(c.grid[i]);
  Pchip inverse(lam, log_sigma);
  std::vector<double> out(static_cast<size_t>(steps + 1));
  out.front() = c.grid.front();
  out.back() = c.grid.back();
  for (int64_t k = 1; k < steps; ++k)
    out[static_cast<size_t>(k)] = std::exp(inverse(lam.back() * static_cast<double>(k) / static_cast<double>(steps)));
  return out;
}

std::vector<double> blend(const std::vector<double>& cur, const std::vector<double>& target, double gamma) {
  if (cur.size() != target.size()) throw std::invalid_argument("blend needs schedules of equal length");
  if (!(gamma > 0 && gamma <= 1)) throw std::invalid_argument("gamma must be in (0, 1]");
  std::vector<double> out(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) out[i] = gamma * target[i] + (1 - gamma) * cur[i];
  return out;
}

OnlineSchedule::OnlineSchedule(std::vector<double> schedule, double gamma, FitOptions options, int64_t dim)
    : schedule_(std::move(schedule)), gamma_(gamma), options_(options), dim_(dim) {
  if (schedule_.size() < 2) throw std::invalid_argument("an online schedule needs at least one step");
  if (!(gamma_ > 0 && gamma_ <= 1)) throw std::invalid_argument("gamma must be in (0, 1]");
}

const std::vector<double>& OnlineSchedule::update(const std::vector<double>& costs) {
  CostCurve curve{schedule_, costs, dim_};
  auto target = fit_schedule(curve, static_cast<int64_t>(schedule_.size()) - 1, options_);
  schedule_ = blend(schedule_, target, gamma_);
  ++updates_;
  return schedule_;
}

}  // namespace sf::so
