#include "sigmaflow/scheduler/score_optimal/adaptive_levels.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"
#include "sigmaflow/status.h"

namespace sf::so {

AdaptiveLevels::AdaptiveLevels(std::vector<double> initial, AdaptiveOptions o)
    : DiscreteLevels(std::move(initial), "adaptive"), o_(o) {
  // Each error names the TrainDenoiser input it is about.
  if (!(o.gamma > 0 && o.gamma <= 1)) throw InputError("gamma", c10::str(o.gamma), "gamma must be in (0, 1]");
  if (o.n_min < 1) throw InputError("n_min", std::to_string(o.n_min), "n_min must be at least 1");
  if (o.burn_in < 0) throw InputError("burn_in", std::to_string(o.burn_in), "burn_in must be >= 0");
  if (!(o.max_spacing > 1))
    throw InputError("max_spacing", c10::str(o.max_spacing), "max_spacing must be > 1 (or <= 1 for none)");
  if (!(o.probe > 0 && o.probe < 1)) throw std::invalid_argument("probe must be in (0, 1)");
  sum_.assign(knots_.size(), 0.0);
  count_.assign(knots_.size(), 0);
}

std::string AdaptiveLevels::describe() const {
  return "adaptive (Algorithm 2, " + std::to_string(knots_.size()) + " levels, gamma " + c10::str(o_.gamma) +
         ", n_min " + std::to_string(o_.n_min) + ", burn-in " + std::to_string(o_.burn_in) + ")";
}

std::vector<double> AdaptiveLevels::target(const std::vector<double>& costs) const {
  CostCurve curve;
  curve.grid = knots_;
  curve.cost = costs;
  curve.dim = o_.dim;
  FitOptions fit;
  fit.floor = o_.floor;
  const int64_t intervals = static_cast<int64_t>(knots_.size()) - 1;
  std::vector<double> t = fit_schedule(curve, intervals, fit);
  // Guard: pull t* towards the geometric schedule g (in log sigma) by the least lambda that
  // keeps every interval within max_spacing geometric spacings. Spacing is linear in lambda.
  const double lo = std::log(knots_.back()), hi = std::log(knots_.front());
  const double uniform = (hi - lo) / static_cast<double>(intervals), cap = o_.max_spacing * uniform;
  double lambda = 0.0;
  for (int64_t i = 0; i < intervals; ++i) {
    const double gap = std::log(t[static_cast<size_t>(i)]) - std::log(t[static_cast<size_t>(i) + 1]);
    if (gap > cap) lambda = std::max(lambda, (gap - cap) / (gap - uniform));
  }
  if (lambda > 0) {
    for (int64_t i = 1; i < intervals; ++i) {
      const double g = hi - uniform * static_cast<double>(i);
      t[static_cast<size_t>(i)] = std::exp((1 - lambda) * std::log(t[static_cast<size_t>(i)]) + lambda * g);
    }
  }
  return t;
}

double AdaptiveLevels::next_level(int64_t knot) const {
  return knot >= 0 && static_cast<size_t>(knot) < knots_.size()
             ? knots_[static_cast<size_t>(knot)] * std::exp(-o_.probe)
             : -1.0;
}

std::vector<double> AdaptiveLevels::interval_costs(const std::vector<double>& v2) const {
  std::vector<double> c(knots_.size() - 1);
  for (size_t i = 0; i < c.size(); ++i) {
    const double len = 0.5 * (std::sqrt(v2[i]) + std::sqrt(v2[i + 1])) * std::log(knots_[i] / knots_[i + 1]);
    c[i] = len * len;
  }
  return c;
}

void AdaptiveLevels::observe_costs(int64_t, const std::vector<int64_t>& knots, const std::vector<double>& costs) {
  // v^2 = sigma^2 delta = sigma^2 L / (sigma - sigma')^2 = L / (1 - e^-probe)^2.
  const double scale = 1.0 / std::pow(1 - std::exp(-o_.probe), 2);
  for (size_t r = 0; r < knots.size() && r < costs.size(); ++r) {
    const int64_t k = knots[r];
    if (k < 0 || static_cast<size_t>(k) >= sum_.size() || !std::isfinite(costs[r])) continue;
    sum_[static_cast<size_t>(k)] += costs[r] * scale;
    ++count_[static_cast<size_t>(k)];
  }
  if (*std::min_element(count_.begin(), count_.end()) < o_.n_min) return;
  std::vector<double> v2(sum_.size());
  for (size_t i = 0; i < sum_.size(); ++i) v2[i] = sum_[i] / static_cast<double>(count_[i]);
  std::vector<double> interval = interval_costs(v2);
  std::vector<double> next = blend(knots_, target(interval), o_.gamma);
  next.front() = knots_.front();
  next.back() = knots_.back();
  knots_ = std::move(next);
  last_costs_ = std::move(interval);
  ++updates_;
  std::fill(sum_.begin(), sum_.end(), 0.0);
  std::fill(count_.begin(), count_.end(), 0);
}

std::vector<double> AdaptiveLevels::state() const {
  std::vector<double> s{static_cast<double>(updates_)};
  s.insert(s.end(), knots_.begin(), knots_.end());
  s.insert(s.end(), sum_.begin(), sum_.end());
  s.insert(s.end(), count_.begin(), count_.end());
  s.insert(s.end(), last_costs_.begin(), last_costs_.end());
  return s;
}

void AdaptiveLevels::restore(const std::vector<double>& s) {
  const size_t k = knots_.size();
  if (s.size() != 1 + 3 * k && s.size() != 1 + 3 * k + (k - 1))
    throw std::invalid_argument("the checkpoint's schedule state does not fit " + std::to_string(k) + " levels");
  updates_ = static_cast<int64_t>(s[0]);
  std::copy(s.begin() + 1, s.begin() + 1 + static_cast<long>(k), knots_.begin());
  std::copy(s.begin() + 1 + static_cast<long>(k), s.begin() + 1 + static_cast<long>(2 * k), sum_.begin());
  for (size_t i = 0; i < k; ++i) count_[i] = static_cast<int64_t>(s[1 + 2 * k + i]);
  last_costs_.assign(s.begin() + 1 + static_cast<long>(3 * k), s.end());
}

}  // namespace sf::so
