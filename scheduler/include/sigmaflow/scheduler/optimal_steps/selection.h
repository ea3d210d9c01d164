// Held-out selection (docs/optimal-steps.md, "Held-out selection"): the optimiser's schedule and
// the stock candidates are run with the real sampler on noises the DP never trained on, scored
// against the converged reference ODE solution from the same noises, and the best is returned,
// with a paired bootstrap interval for every figure. This is what keeps an over-fitted DP
// schedule from shipping when a stock schedule measures better.
//
// Selection rule, in order:
//  1. Baselines (the stock schedules and any SIGMAS the user connects) are always eligible: they
//     are what the user would run otherwise.
//  2. Distribution: every other candidate (the DP's schedule, score_optimal) is compared with the
//     best baseline in two figures, each between its outputs and the reference outputs: the sliced
//     W2, and the total variation between mode weights (the share of outputs in each cluster of the
//     reference outputs; k-means, up to 16 clusters). A candidate whose sliced W2 is more than
//     1.2 x the lowest baseline's, or whose mode-weight TV is more than the lowest baseline's + 0.01,
//     with the paired 95 % interval of the difference excluding 0, is not eligible: it moves mass
//     between modes, whatever its trajectory error.
//  3. Trajectory: among the eligible, the lowest RMS distance from the reference.
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
  bool baseline = false;       // a stock or connected schedule: always eligible, and the distribution bar
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
  double mode_tv = 0.0;  // total variation between its cluster weights and the reference outputs'
  Interval mode_tv_interval;
  bool eligible = true;      // a baseline, or not a distribution loss against the best baseline
  std::string not_eligible;  // why not, e.g. "mode weights 0.1050 from the reference's, over karras's ..."
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

// The choice alone (the rule above) from outputs already measured: `outputs[c]` is candidate c's
// outputs from the same noises as `reference` (rows x ...sample shape), e.g. to audit a choice.
// Uses the request's seed, projections and resamples.
Selection select_from_outputs(const std::vector<CandidateSchedule>& candidates, const std::vector<at::Tensor>& outputs,
                              const at::Tensor& reference, const SelectionRequest& request);

}  // namespace sf::oss
