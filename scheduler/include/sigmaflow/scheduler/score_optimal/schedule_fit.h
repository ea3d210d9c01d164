// From per-interval costs to a schedule: the paper's Algorithm 1 (cumulative length, monotone
// inverse interpolation in log sigma, equal spacing), the scale-free tail prior, and the online
// blend of Algorithm 2. Torch-free, float64.
#pragma once

#include <cstdint>
#include <vector>

namespace sf::so {

// A fine grid and the cost of each of its intervals.
struct CostCurve {
  std::vector<double> grid;  // strictly descending noise levels: grid[0] = sigma_max ... grid[T] = sigma_min
  std::vector<double> cost;  // T costs, cost[i] for grid[i] -> grid[i+1] (summed over dimensions)
  int64_t dim = 1;           // data dimension d (scales the tail prior)
};

// The point-mass cost d (s/s' - s'/s)^2: the corrector cost of data far below the noise scale.
double point_mass_cost(double sigma, double sigma_next, int64_t dim);

struct FitOptions {
  // Weight of the scale-free prior added to every interval: L = L_c + floor * d (s/s' - s'/s)^2.
  // 0 is the paper's method.
  double floor = 0.0;
  // Costs below relative_floor * max(cost) are raised to it so the length is strictly increasing.
  double relative_floor = 1e-10;
};

// Interval costs with the tail prior and the relative floor applied.
std::vector<double> effective_costs(const CostCurve& curve, const FitOptions& options);

// Lambda(grid[i]) = sum_{j<i} sqrt(L_j): T + 1 values starting at 0.
std::vector<double> cumulative_length(const std::vector<double>& costs);

// Fritsch-Carlson monotone cubic (PCHIP) through (xs, ys), xs strictly increasing, ys monotone.
class Pchip {
 public:
  Pchip(std::vector<double> xs, std::vector<double> ys);
  double operator()(double x) const;

 private:
  std::vector<double> xs_, ys_, slopes_;
};

// The N-step schedule (N + 1 values, descending from grid.front() to grid.back(), no trailing
// zero): equal steps of Lambda, inverted monotonically in log sigma. Endpoints are exact.
std::vector<double> fit_schedule(const CostCurve& curve, int64_t steps, const FitOptions& options,
                                 std::vector<double>* cumulative = nullptr);

// Algorithm 2's blend: t <- gamma t* + (1 - gamma) t, elementwise on two schedules of equal
// length. A convex blend of descending schedules is descending.
std::vector<double> blend(const std::vector<double>& current, const std::vector<double>& target, double gamma);

// Online adaptation (the paper's Algorithm 2): keeps an N-step schedule and moves it towards the
// equal-cost schedule for the costs measured on it. Usable across training steps or repeated
// sampling runs. Not thread-safe; one instance per schedule.
class OnlineSchedule {
 public:
  OnlineSchedule(std::vector<double> schedule, double gamma, FitOptions options = {}, int64_t dim = 1);
  // `costs[k]` is the measured cost of step schedule[k] -> schedule[k+1] (N values). Returns the
  // updated schedule.
  const std::vector<double>& update(const std::vector<double>& costs);
  const std::vector<double>& schedule() const { return schedule_; }
  int64_t updates() const { return updates_; }

 private:
  std::vector<double> schedule_;
  double gamma_;
  FitOptions options_;
  int64_t dim_;
  int64_t updates_ = 0;
};

}  // namespace sf::so
