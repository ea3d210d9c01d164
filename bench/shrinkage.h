// Regularised forms of the DP's schedule, measured by `bench_optimal_steps learned variants=1`
// against the DP's own on fresh noise (docs/optimal-steps.md, "Over-fitting at large N"). Both
// lost to the DP's schedule in most cells, so the optimiser does not use them; they stay here so
// that the comparison can be re-run.
//
// Every schedule here is a full SIGMAS: N + 1 strictly descending positive values, then 0.
// Pure functions of their arguments; torch-free.
#pragma once

#include <vector>

namespace sf::bench {

// The DP's schedule with its log sigma smoothed along the step index: z minimises
//   sum_i (z_i - ln sigma_i)^2 + strength * sum_i (z_{i-1} - 2 z_i + z_{i+1})^2
// with the first and last positive values kept. strength 0 returns the input; large strengths
// tend to the log-linear (exponential) schedule between the two ends. Empty when the result
// would not be strictly descending (it then is no candidate).
std::vector<double> smoothed_in_log_sigma(const std::vector<double>& sigmas, double strength);

// exp(w ln a_i + (1 - w) ln b_i) step by step: `a` shrunk towards `b` (w = 1: a; w = 0: b).
// A convex combination of two descending sequences descends too. Empty unless both are full
// SIGMAS of the same length.
std::vector<double> blended_in_log_sigma(const std::vector<double>& a, const std::vector<double>& b, double w);

}  // namespace sf::bench
