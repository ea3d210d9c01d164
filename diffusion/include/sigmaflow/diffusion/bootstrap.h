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

// Replicate-wise a / b (`ratio`) or a - b of two paired replicate lists; non-finite results
// (a zero denominator) are dropped.
std::vector<double> paired_replicates(const std::vector<double>& a, const std::vector<double>& b, bool ratio);

}  // namespace sf::diffusion
