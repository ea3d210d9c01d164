// The bootstrap behind every interval sigmaflow reports (held-out selection, sweeps, reports).
// Torch-free.
//
// Paired by construction: a resample draws particle indices, and every schedule's run from the
// same noises is resampled with the same indices, so ratios and differences between schedules
// keep the correlation the shared noise gives them (their intervals are narrower than the
// unpaired ones, as they should be).
//
// Reproducible: the draws come from mt19937_64 with a fixed mapping to indices, so every machine
// and every process of a torchrun group draws the same resamples for the same seed.
#pragma once

#include <cstdint>
#include <vector>

namespace sf::diffusion {

// A percentile interval (NaN bounds: not measured).
struct Interval {
  double lo = 0.0, hi = 0.0;
};

// `resamples` draws of n indices in [0, n) with replacement, row-major [resamples, n].
std::vector<int64_t> bootstrap_indices(int64_t n, int64_t resamples, uint64_t seed);

// Resample `b` of `seed` as multiplicities: counts[i] = how often particle i is drawn in n draws
// (the counts sum to n). Each resample has its own stream, so any one can be drawn alone, in any
// order, on any rank.
std::vector<uint32_t> bootstrap_counts(int64_t n, uint64_t seed, int64_t b);

// The central `level` interval of the values: percentiles with linear interpolation (numpy's
// default). Empty values give {NaN, NaN}.
Interval percentile_interval(std::vector<double> values, double level = 0.95);

// Efron's BCa interval: the percentiles moved for the replicates' median bias (z0, from the share
// of replicates below the point estimate, ties counted half) and for skewness (`acceleration`).
// The plain percentile interval under-covers a skewed mean: 92.8 % instead of 95 % for the RMS error
// of 400 particles (bench_intervals coverage). Falls back to the percentile interval when the
// adjustment is undefined.
Interval bca_interval(std::vector<double> values, double point, double acceleration, double level = 0.95);
// The acceleration of a statistic whose particles have influence u_i (their deviation from the
// mean for a mean): sum u^3 / (6 (sum u^2)^1.5). 0 for fewer than 3 values or no spread.
double bca_acceleration(const double* influence, int64_t n);

// Replicate-wise a / b (`ratio`) or a - b of two paired replicate lists; non-finite results
// (a zero denominator) are dropped.
std::vector<double> paired_replicates(const std::vector<double>& a, const std::vector<double>& b, bool ratio);

}  // namespace sf::diffusion
