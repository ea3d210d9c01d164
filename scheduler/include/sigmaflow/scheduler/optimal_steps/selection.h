// Held-out selection (docs/optimal-steps.md, "Held-out selection"): the optimiser's schedule and
// the stock candidates are run with the real sampler on noises the DP never trained on, scored
// against the converged reference ODE solution from the same noises, and the best is returned,
// with a paired bootstrap interval for every figure. This is what keeps an over-fitted DP
// schedule from shipping when a stock schedule measures better.
//
// Selection rule, in order:
//  1. Distribution: the sliced W2 between a candidate's outputs and the reference outputs. A
//     candidate whose distance is more than 1.2 x the smallest one, with the paired 95 % interval of
//     the difference excluding 0, is not eligible (it moves mass between modes, whatever its
//     trajectory error).
//  2. Trajectory: among the eligible, the lowest RMS distance from the reference.
// With an automatic held-out size, the set starts at 256 noises and doubles (up to max_held_out, 2048 by default)
// while the runner-up's paired ratio interval still contains 1: a tie is resolved by measuring more, and
// only a tie pays for it. The reference outputs of the held-out noises depend on the model, grid and seed
// only: computed once (and extended as the set grows) they serve every step count.
//
// Threading: single-threaded driver; LibTorch parallelises the tensor work.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sigmaflow/diffusion/bootstrap.h"
#include "sigmaflow/model.h"
#include "sigmaflow/sampler.h"

namespace sf::oss {

// The bootstrap (sigmaflow/diffusion/bootstrap.h) behind every interval here.
using diffusion::bootstrap_indices;
using diffusion::Interval;
using diffusion::percentile_interval;

struct CandidateSchedule {
  std::string label;           // "optimal_steps", "karras", ... or the input name of a connected SIGMAS
  std::vector<double> sigmas;  // the full schedule: steps + 1 descending values ending in 0
};

struct CandidateScore {
  std::string label;
  std::vector<double> sigmas;
  double rms = 0.0;  // sqrt(mean over held-out noises of ||x_N - x_ref||^2)
  Interval rms_interval;
  double ratio = 1.0;  // rms / the chosen candidate's rms (paired: the same noises)
  Interval ratio_interval;
  double sliced_w2 = 0.0;  // between the outputs and the reference outputs
  Interval sliced_w2_interval;
  bool eligible = true;  // sliced W2 not materially and significantly worse than the best one's
};

struct Selection {
  size_t chosen = 0;      // index into scores
  int64_t held_out = 0;   // noises the candidates were measured on
  int64_t resamples = 0;  // bootstrap resamples behind every interval
  std::vector<CandidateScore> scores;
  std::string summary;  // one sentence: what was chosen and why
  int64_t nfe = 0;      // model evaluations spent (reference, sampler runs, candidates not cached)
  // The held-out reference outputs for the noises measured (the request's, extended when the set
  // grew past it), for the caller to keep for the plan's other step counts; not stored in caches.
  at::Tensor reference;
};

struct SelectionRequest {
  int64_t held_out = -1;        // noises; -1: automatic (256, doubled while the choice is within noise, up to max)
  int64_t max_held_out = 2048;  // automatic size: the upper bound
  uint64_t seed = 0;            // the optimiser's seed: the held-out noises come from a stream derived from it
  std::vector<double> grid;     // the reference's grid (the DP's), sigma_max ... sigma_min
  int64_t substeps = 4;         // Heun sub-steps per grid interval of the reference
  int64_t resamples = 500;
  int64_t projections = 64;          // sliced W2 directions
  int64_t chunk_elements = 1 << 22;  // bound on the elements of one batch of particles
  const std::atomic<bool>* interrupt = nullptr;
  std::function<void(const std::string&)> info;
  // The converged outputs D(x_ref(sigma_min), sigma_min) of the first rows of the held-out stream
  // on `grid`, [rows, ...sample shape] float64 (any number of rows, e.g. Selection::reference of an
  // earlier call or a cache); undefined or shorter than the noises measured: the rest is integrated here.
  at::Tensor reference;
};

// Measures every candidate with `sampler` on held-out noises and selects one (see the rule
// above). Throws sf::InputError ("held_out_noises") for a size below 16, an InputError about
// "model" naming the sigma when the model returns NaN or Inf, sf::Interrupted on request.
Selection select_on_held_out(const Model& model, const Sampler& sampler,
                             const std::vector<CandidateSchedule>& candidates, const SelectionRequest& request);

}  // namespace sf::oss
