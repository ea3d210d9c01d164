// Glue between a MODEL, a sampler and the optimal-steps DP: training noises, grid, reference,
// DP, cache and diagnostics. Used by the OptimalStepsScheduler node and the named schedule
// `optimal_steps` (docs/optimal-steps.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/collectives.h"
#include "sigmaflow/diagnostics.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/model.h"
#include "sigmaflow/sampler.h"
#include "sigmaflow/scheduler/optimal_steps/selection.h"

namespace sf::oss {

// Defaults chosen by measurement (docs/optimal-steps.md).
struct OptimalStepsRequest {
  int64_t steps = 20;
  double denoise = 1.0;
  // The sampler: sampler_object when set (any sampler with a step form, stock or plugin), else the
  // table sampler named `sampler` with `settings`. `sampler` also names it in messages.
  std::string sampler = "euler";
  SamplerSettings settings;
  int64_t max_steps = 0;  // N_max; 0: max(40, the total step count)
  // 0 (grid_size, training_noises): automatic (resolve_automatic_settings): 128 and 512 (256 for
  // two-evaluation samplers) up to 256 dimensions; above, chosen from the measured evaluation cost
  // to fit time_budget_s.
  int64_t grid_size = 128;                // K intervals of candidate sigmas
  std::string grid = "log";               // "log" (log-uniform) or "cost" (equal corrector length + log share)
  double log_share = 0.5;                 // grid "cost": the log-uniform share of the points
  int64_t training_noises = 512;          // M
  double time_budget_s = 240;             // automatic settings above 256 dimensions: the target time
  int64_t substeps = 4;                   // Heun sub-steps per grid interval of the reference
  double ratio_bound = 2.0;               // multistep samplers (0: none)
  int64_t exact_candidates = 4;           // two-evaluation samplers (0: all)
  int64_t rank_particles = 8;             // two-evaluation samplers: particles that rank every step
  std::string objective = "mean_square";  // or "trimmed"
  double trim_fraction = 0.01;
  uint64_t seed = 0;
  std::string cache_dir;  // empty: no cache
  const std::atomic<bool>* interrupt = nullptr;
  std::function<void(int64_t, int64_t)> progress;
  std::function<void(const std::string&)> info, warn;
  // Held-out selection (selection.h): the DP's schedule competes with the stock candidates and
  // the extra ones on noises it never trained on; the best is returned. Off: the DP's schedule.
  bool select = true;
  int64_t held_out_noises = -1;  // -1: automatic (256, doubled while the choice is within noise, up to max_held_out)
  int64_t max_held_out = 2048;
  // Named stock candidates: karras, exponential, align_your_steps (AYS-like), kl_optimal,
  // score_optimal (the paper's default schedule; its estimate is cached like any other).
  std::vector<std::string> stock_candidates{"karras", "exponential", "align_your_steps", "score_optimal"};
  // Connected SIGMAS: each a full schedule of the total step count (steps + 1 values ending in 0).
  std::vector<CandidateSchedule> extra_candidates;
  // The sampler optimised for and run on the held-out noises (borrowed for the call); null: the
  // table sampler named `sampler` with `settings`.
  const Sampler* sampler_object = nullptr;
  // Under torchrun: the training noises are shared out in blocks across the ranks (every rank
  // must make the same call); the plan is the single process's. Null: one process.
  const Collectives* group = nullptr;
};

// Everything one DP run yields: the schedule for every N <= max_steps.
struct OptimalStepsPlan {
  std::vector<double> grid;
  std::vector<std::vector<double>> schedules;  // [N - 1]: N + 1 values ending in 0 (empty: none)
  std::vector<double> training_error;          // [N - 1]
  int64_t nfe = 0;
  double seconds = 0.0;
  bool from_cache = false;
};

// The request with automatic settings (0 for grid_size or training_noises) made concrete, and a
// sentence saying what was chosen and why (empty when nothing was automatic). Up to 256
// dimensions: K = 128, M = 512 (256 for heun, dpm_2), the measured defaults. Above: N_max =
// max(20, steps) unless given; the model's cost per evaluation is measured and K (128 down to
// 32) and M (512 down to 16) chosen so that reference, DP and held-out reference fit
// time_budget_s; the held-out set is bounded at 2 M. The choice is cached per model, sampler and
// budget, so a later run makes the same one.
OptimalStepsRequest resolve_automatic_settings(const Model& model, OptimalStepsRequest request, std::string& note);

// The plan for the request (cached by model fingerprint, sampler and options, N_max and every
// setting). The plan is the DP's alone: held-out selection happens in optimal_steps_schedule. Throws sf::InputError
// naming the field at fault (sampler, lower_order_final, s_churn, max_steps, grid_size, training_noises, ...),
// an InputError about "model" naming the sigma when the model's output is not finite, sf::Interrupted on request.
OptimalStepsPlan optimal_steps_plan(const Model& model, const OptimalStepsRequest& request);

// The optimiser's diagnostics: the schedule diagnostics plus the held-out selection.
// (API 3.0 will move the selection into ScheduleDiagnostics; until then it rides in this
// subclass, whose type information lives in this library.)
class SF_SHARED OptimalStepsDiagnostics : public ScheduleDiagnostics {
 public:
  ~OptimalStepsDiagnostics() override;
  bool selected = false;  // held-out selection ran; `selection` holds it
  Selection selection;
  std::string settings_note;  // what automatic settings chose and why (empty: none automatic)
};

// The optimal_steps diagnostics behind a SCHEDULE_DIAGNOSTICS value, or null for another
// scheduler's (the type test stays in this library).
const OptimalStepsDiagnostics* as_optimal_steps(const ScheduleDiagnostics& diagnostics);

struct OptimalStepsResult {
  diffusion::Sigmas sigmas;  // steps + 1 values ending in 0 (denoise rule applied; empty for denoise 0)
  std::shared_ptr<OptimalStepsDiagnostics> diagnostics;
};
// The schedule for the request: the plan's N-step schedule, or the candidate held-out selection
// chose (cached with the plan). Throws sf::InputError naming the field at fault
// (held_out_noises, candidates, an extra candidate's label, ...), like optimal_steps_plan.
OptimalStepsResult optimal_steps_schedule(const Model& model, const OptimalStepsRequest& request);

}  // namespace sf::oss
