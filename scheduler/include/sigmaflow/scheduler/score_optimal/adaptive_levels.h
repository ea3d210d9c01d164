// Training noise levels that learn the score-optimal schedule while the network trains: the
// paper's Algorithm 2 on a discrete schedule of `levels` knots.
//
// - Rows draw a knot uniformly; the trainer measures the corrector cost from that knot sigma to
//   a nearby level sigma' = sigma e^-probe, L = sigma'^2 ||s(x, sigma') - s(x, sigma)||^2, reusing the
//   loss's score and one more evaluation at the same x. L / (sigma - sigma')^2 estimates the
//   local cost density delta(sigma) (reference/score_optimal.md), so each knot gets a speed
//   v = sigma sqrt(delta) in log sigma, and an interval's length is the trapezoid
//   (v_i + v_i+1) / 2 * ln(sigma_i / sigma_i+1). (The cost of a whole coarse interval would not
//   do: weighted by the level entered, a jump into the data scale looks almost free, and the
//   knots drift away from the small end; measured in tests/scheduler/adaptive_levels_test.cpp.)
// - Once every knot has been measured n_min times (counted after burn_in steps), Algorithm 1
//   on the knots gives t*, and the knots move to gamma t* + (1 - gamma) t. The counts restart.
// - Guard against an untrained network's costs: the first `burn_in` steps keep the initial
//   (fixed) schedule, and no interval of t* may be wider in log sigma than `max_spacing` times the
//   geometric schedule's (t* is pulled towards the geometric schedule, in log sigma, by the least
//   amount that satisfies it). The tail prior `floor` is the offline scheduler's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/diffusion/training.h"

namespace sf::so {

struct AdaptiveOptions {
  double gamma = 0.1;        // blend weight, in (0, 1]
  int64_t n_min = 8;         // visits of every interval before a resample, >= 1
  int64_t burn_in = 0;       // steps on the initial schedule before costs are measured
  double floor = 0.1;        // tail prior weight (FitOptions::floor)
  double max_spacing = 8.0;  // guard; infinity turns it off
  double probe = 0.05;       // ln(sigma / sigma') of the cost measurement
  int64_t dim = 1;           // data dimension (scales the tail prior)
};

class AdaptiveLevels : public diffusion::DiscreteLevels {
 public:
  // `initial`: descending knots (e.g. diffusion::discrete_schedule("linear", ...)). Throws an
  // sf::InputError about "gamma" outside (0, 1], "n_min" < 1, "burn_in" < 0 or "max_spacing" <= 1.
  AdaptiveLevels(std::vector<double> initial, AdaptiveOptions options);
  std::string describe() const override;
  bool wants_costs(int64_t step) const override { return step >= o_.burn_in; }
  double next_level(int64_t knot) const override;
  void observe_costs(int64_t step, const std::vector<int64_t>& knots, const std::vector<double>& costs) override;
  int64_t updates() const override { return updates_; }
  std::vector<double> last_costs() const override { return last_costs_; }
  std::vector<double> state() const override;
  void restore(const std::vector<double>& state) override;

  // The guarded target for per-interval costs (squared lengths) on the current knots (exposed for
  // tests).
  std::vector<double> target(const std::vector<double>& costs) const;
  // Interval costs (squared lengths) from per-knot mean v^2 (exposed for tests).
  std::vector<double> interval_costs(const std::vector<double>& speed_squared) const;

 private:
  AdaptiveOptions o_;
  std::vector<double> sum_, last_costs_;
  std::vector<int64_t> count_;
  int64_t updates_ = 0;
};

}  // namespace sf::so
