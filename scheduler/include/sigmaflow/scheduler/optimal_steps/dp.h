// The sampler-aware dynamic programme (OSS-style; reference/optimal_steps.md): over (n steps
// taken, grid point j) it keeps the one student state that reaches sigma_j in n steps with the
// smallest error against the reference there, carrying the sampler's own state (multistep
// history included) along each path. One run gives the schedules for every N <= max_steps.
//
// Cost: one model evaluation per particle per live state (n, j); two-evaluation samplers add one
// per ranking particle for every allowed step and one per particle for each of
// `exact_candidates` predecessors of each state.
// Threading: single-threaded driver; LibTorch parallelises the tensor work.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sigmaflow/scheduler/optimal_steps/particle_share.h"
#include "sigmaflow/scheduler/optimal_steps/reference.h"
#include "sigmaflow/step_form.h"

namespace sf::oss {

// How the per-particle squared errors of a candidate are summarised when comparing predecessors.
enum class Objective {
  kMeanSquare,  // the prototype's: mean over particles
  kTrimmed,     // the mean over all but the largest trim_fraction (particles that changed mode)
};

struct DpOptions {
  int64_t max_steps = 40;  // N_max
  // Multistep samplers: a step may be at most ratio_bound times the previous one in log sigma
  // (h_next <= ratio_bound * h_prev), which keeps the extrapolation weights bounded. 0: none.
  double ratio_bound = 2.0;
  // Two-evaluation samplers: every predecessor of each state is scored exactly on the first
  // rank_particles particles, and the best exact_candidates of them on all (0: all on all).
  int64_t exact_candidates = 4;
  int64_t rank_particles = 8;
  Objective objective = Objective::kMeanSquare;
  double trim_fraction = 0.01;
  int64_t chunk_elements = int64_t{1} << 24;  // bound on float64 elements of one batched tensor
  ParticleShare share;                        // total = 0: the reference's particles, one process
  std::string sampler_name = "sampler";       // for messages
};

struct DpResult {
  // schedules[N - 1]: the N-step SIGMAS (N + 1 values, sigma_max ... sigma_min, 0; N = 1 gives
  // {sigma_max, 0}); training_error[N - 1]: RMS distance of its output from the reference's.
  std::vector<std::vector<double>> schedules;
  std::vector<double> training_error;
  int64_t nfe = 0;
};

// `form` is the sampler's step form, checked (step_forms.h: checked_step_form).
// `reference` holds the training noises' trajectories. Throws sf::InputError ("max_steps") when max_steps exceeds the
// grid, an InputError about "model" naming the sigma when the model returns NaN or Inf, sf::Interrupted on request.
DpResult optimise_steps(const Denoiser& denoise, const StepForm& form, const Reference& reference,
                        const DpOptions& options, const std::atomic<bool>* interrupt = nullptr,
                        const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sf::oss
