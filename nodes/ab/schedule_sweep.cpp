// ScheduleSweep: the full schedule x sampler x steps matrix from one initial noise, with metrics
// against a converged reference.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <numeric>

#include <nlohmann/json.hpp>

#include "../common/text.h"
#include "cell_intervals.h"
#include "nodes.h"
#include "report_writer.h"
#include "sigmaflow/diffusion/bootstrap.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/number_list.h"
#include "sigmaflow/schedule_options.h"
#include "sigmaflow/scheduler/stock.h"
#include "timed_model.h"

namespace sf::nodes {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// What the sweep runs: names resolved against the registries, step counts parsed.
struct SweepPlan {
  std::vector<std::string> schedules, samplers;  // schedules: registered names, then extra inputs
  std::vector<int64_t> steps;
  std::map<std::string, std::shared_ptr<const Sampler>> sampler_objects;
  // Connected SIGMAS candidates by input name: each runs at its own step count only.
  std::map<std::string, diffusion::Sigmas> extra;
  // schedule_options, when connected: settings for the schedule it names (one of `schedules`).
  std::shared_ptr<const ScheduleOptions> options;
  bool runs(const std::string& schedule, int64_t n) const {
    auto it = extra.find(schedule);
    return it == extra.end() || static_cast<int64_t>(it->second.size()) - 1 == n;
  }
  int64_t cell_count() const {
    int64_t count = 0;
    for (const auto& s : schedules)
      for (int64_t n : steps) count += runs(s, n) ? static_cast<int64_t>(samplers.size()) : 0;
    return count;
  }
};

constexpr const char* kExtraSchedules[] = {"extra_sigmas_1", "extra_sigmas_2"};

SweepPlan plan_sweep(Context& ctx, const Inputs& in) {
  SweepPlan p;
  p.schedules = split_list(in.get_string("schedulers"));
  p.samplers = split_list(in.get_string("samplers"));
  for (const auto& s : split_list(in.get_string("steps_list"))) {
    double v = 0;
    if (!parse_number(s, v) || v < 1 || v != std::floor(v) || v > 100000)
      throw InputError("steps_list", "\"" + in.get_string("steps_list") + "\"",
                       "'" + s + "' is not a step count in 1..100000");
    p.steps.push_back(static_cast<int64_t>(v));
  }
  if (p.schedules.empty()) throw InputError("schedulers", "\"\"", "no schedule names given");
  if (p.samplers.empty()) throw InputError("samplers", "\"\"", "no sampler names given");
  if (p.steps.empty()) throw InputError("steps_list", "\"\"", "no step counts given");
  auto known = ctx.schedule_names();
  for (const auto& s : p.schedules)
    if (std::find(known.begin(), known.end(), s) == known.end())
      throw InputError("schedulers", s, "unknown scheduler '" + s + "' (registered: " + join(known) + ")");
  if (in.has("schedule_options")) {
    p.options = in.get<ScheduleOptions>("schedule_options");
    const std::string target = p.options->schedule();
    if (std::find(p.schedules.begin(), p.schedules.end(), target) == p.schedules.end())
      throw InputError("schedule_options", p.options->describe(),
                       "holds options for the schedule '" + target + "', which is not in schedulers (\"" +
                           in.get_string("schedulers") + "\"): add it there or disconnect the options");
  }
  SamplerSettings settings;  // k-diffusion's defaults, as KSamplerSelect
  for (const auto& s : p.samplers) {
    auto obj = ctx.make_sampler(s, settings);
    if (!obj.ok()) throw InputError("samplers", s, obj.status().message());
    p.sampler_objects[s] = *obj;
  }
  for (const char* name : kExtraSchedules) {
    if (!in.has(name)) continue;
    diffusion::Sigmas sig = diffusion::Sigmas::from_tensor(in.get_tensor(name)).rounded_to_float32();
    sig.check_sampling(name);
    const auto n = static_cast<int64_t>(sig.size()) - 1;
    if (std::find(p.steps.begin(), p.steps.end(), n) == p.steps.end())
      throw InputError(name, "a schedule of " + std::to_string(n) + " steps",
                       "its step count is not in steps_list (\"" + in.get_string("steps_list") + "\"): add " +
                           std::to_string(n) + " there or connect a schedule of one of those lengths");
    p.schedules.push_back(name);
    p.extra.emplace(name, sig);
  }
  return p;
}

// The schedule of a cell, as a SIGMAS value holds it (float32-rounded).
// `options` (schedule_options) compute the schedule they are for.
diffusion::Sigmas sweep_schedule(Context& ctx, const Model& model, const std::string& name, int64_t n,
                                 const Sampler& sampler, const ScheduleOptions* options) {
  ScheduleHints hints;
  hints.sampler = &sampler;
  if (options && options->schedule() != name) options = nullptr;
  auto st = compute_named_schedule(ctx, name, model, n, hints, options, "schedule_options");
  if (!st.ok())
    throw InputError(options ? "schedule_options" : "schedulers", options ? options->describe() : name,
                     "schedule '" + name + "' failed for " + std::to_string(n) + " steps: " + st.status().message());
  diffusion::Sigmas sig = diffusion::Sigmas(*st).rounded_to_float32();
  sig.check_sampling("schedulers");
  return sig;
}

// The sweep holds about eight batches at once (noise, reference, target, a cell's states).
void check_batch_memory(const Model& model, int64_t batch) {
  uint64_t bytes = 0;
  if (!diffusion::checked_bytes(diffusion::batch_shape(batch, model.sample_shape()), c10::elementSize(model.dtype()),
                                bytes))
    throw InputError("batch", std::to_string(batch), "the batch's size overflows");
  Status mem = diffusion::check_allocation(bytes, "a sweep batch of " + std::to_string(batch) + " samples", 8.0);
  if (!mem.ok()) throw InputError("batch", std::to_string(batch), mem.message(), Code::kResourceExhausted);
}

// A converged probability-flow ODE solve from the same noise: heun on a fine karras schedule.
// Under torchrun each rank solves its rows of the batch and the rows are gathered.
at::Tensor reference_solve(const Model& model, const at::Tensor& noise, int64_t steps, uint64_t seed, Report& report,
                           const Collectives* group, const std::function<void(int64_t, int64_t)>& progress) {
  auto t0 = Clock::now();
  auto sig = diffusion::Sigmas(schedules::karras(steps, model.sigma_min(), model.sigma_max())).rounded_to_float32();
  SampleContext rctx;
  rctx.seed = seed;
  rctx.progress = progress;
  diffusion::TableSampler heun(*diffusion::find_sampler("heun"), SamplerSettings{});
  const int64_t n = noise.size(0);
  SampleSharding shard;
  at::Tensor reference = diffusion::rows_gathered(group, n, [&](int64_t begin, int64_t end) {
    if (end - begin < n && !rctx.extensions) {  // this rank's rows of the batch
      shard.row_offset = begin;
      shard.global_rows = n;
      rctx.attach(shard);
    }
    return heun.sample(model, noise.narrow(0, begin, end - begin) * sig[0], sig.values(), rctx);
  });
  report.timings["reference_seconds"] = seconds_since(t0);
  report.reference =
      "heun, " + std::to_string(steps) + " karras steps, same noise (" + std::to_string(rctx.nfe) + " NFE)";
  return reference;
}

// Samples the distances are measured against: the connected ones, exact data, or the reference.
at::Tensor distance_target(const Inputs& in, const ExactDensity* exact, const at::Tensor& noise,
                           const at::Tensor& reference, int64_t batch, uint64_t seed, std::string& description) {
  if (in.has("reference_samples")) {
    Latent probe(noise);
    check_same_sample_shape(probe, "model samples", *in.get<Latent>("reference_samples"), "reference_samples");
    description = "the connected reference_samples";
    return in.get<Latent>("reference_samples")->samples();
  }
  if (exact) {
    description = "exact data samples";
    return exact->sample_data(batch, seed + 1);
  }
  description = "the reference solve";
  return reference;
}

// One resample's weighted sums over the particles (counts c): sum c inf (sliced W2's shift),
// sum c sq (trajectory error), sum c lp (log-density; with the modes' histogram), each metric
// absent when its pointer is null. No branch on c == 0: a third of the particles, at random, and
// the mispredicted branch cost 3x the arithmetic it skipped. (Four interleaved partial sums with
// the histogram in a second pass measured 1.8x slower.)
struct ResampleSums {
  double sw_shift = 0, te = 0, ld = 0;
};
template <class Count>
ResampleSums resample_sums(const Count* counts, int64_t rows, const double* inf, const double* sq, const double* lp,
                           const int64_t* modes, double* hist) {
  ResampleSums s;
  for (int64_t i = 0; i < rows; ++i) {
    const double c = counts[i];
    s.sw_shift += c * inf[i];
    if (sq) s.te += c * sq[i];
    if (modes) {
      s.ld += c * lp[i];
      hist[static_cast<size_t>(modes[i])] += c;
    }
  }
  return s;
}

// What a cell's metrics are measured with, and the bootstrap behind their intervals.
struct CellRunner {
  const Model& model;
  const at::Tensor& noise;
  const at::Tensor& reference;
  const at::Tensor& reference_modes;  // nearest component of each reference output (exact models)
  const ExactDensity* exact;          // the model's, or the connected reference_model's; may be null
  const diffusion::SlicedWassersteinReference& sw;
  uint64_t seed;
  uint64_t bootstrap_seed;
  int64_t resamples;  // 0: no intervals
  double sampling_seconds = 0, metric_seconds = 0, interval_seconds = 0;

  // Each particle's part of the metrics: the point values are their means; the bootstrap
  // resamples them.
  struct Particles {
    int64_t rows = 0;
    at::Tensor squared, log_density, modes;  // undefined when not measured
    diffusion::SlicedWassersteinReference::Linearised sw;
  };

  ReportCell run(const std::string& sched, const std::string& sampler_name, const Sampler& sampler,
                 const diffusion::Sigmas& sig, int64_t n, CellReplicates& replicates) {
    ReportCell cell{sched, sampler_name, n, 0, 0.0, {}, sig.values()};
    SampleContext sc;
    sc.seed = seed;
    auto t0 = Clock::now();
    at::Tensor out = sampler.sample(model, noise * sig[0], sig.values(), sc);
    cell.wall_seconds = seconds_since(t0);
    sampling_seconds += cell.wall_seconds;
    cell.nfe = sc.nfe;
    auto t_m = Clock::now();
    Particles p;
    p.rows = out.size(0);
    if (!sampler.traits().stochastic) {
      p.squared = diffusion::row_squared_distances(out, reference).contiguous();
      cell.metrics["trajectory_error"] = std::sqrt(p.squared.mean().item<double>());
    }
    // With intervals, the linearised distance carries the point value too (one projection sort).
    if (resamples > 0) p.sw = sw.linearised(out);
    cell.metrics["sliced_wasserstein"] =
        resamples > 0 && sw.reference_size() == p.rows ? std::sqrt(p.sw.squared) : sw.distance(out);
    if (exact) {
      p.modes = diffusion::nearest_component(out, exact->component_means()).contiguous();
      cell.metrics["mode_coverage_tv"] = diffusion::mode_coverage_tv_of(p.modes, exact->component_weights());
      cell.metrics[metric_annotation("mode_coverage_tv", metric_keys::kFlips)] =
          static_cast<double>(p.modes.ne(reference_modes).sum().item<int64_t>());
      p.log_density = exact->log_density(out, 0.0).to(at::kCPU, at::kDouble).contiguous();
      cell.metrics["mean_log_density"] = p.log_density.mean().item<double>();
    }
    metric_seconds += seconds_since(t_m);
    for (const auto& [name, v] : std::map<std::string, double>(cell.metrics))
      if (!is_metric_annotation(name))
        cell.metrics[metric_annotation(name, metric_keys::kParticles)] = static_cast<double>(p.rows);
    if (resamples > 0) {
      auto t_i = Clock::now();
      // Skewness of each metric's per-particle influence: the BCa interval's acceleration.
      auto accelerate = [&](const char* metric, const at::Tensor& influence) {
        if (influence.defined())
          cell.metrics[metric_annotation(metric, metric_keys::kAcceleration)] =
              diffusion::bca_acceleration(influence.data_ptr<double>(), p.rows);
      };
      accelerate("trajectory_error", p.squared);
      accelerate("sliced_wasserstein", p.sw.influence);
      accelerate("mean_log_density", p.log_density);
      replicates = resample(p);
      interval_seconds += seconds_since(t_i);
    }
    return cell;
  }

  // Every resample's counts, [resample][particle]: the same for every cell (that is what pairs
  // them), so drawn once per runner, not once per cell (drawing them was most of the intervals'
  // cost). Empty when they would take more than kMaxSharedCounts entries, or a count does not
  // fit 16 bits; then each cell draws its own, as before. Built by the driver thread.
  static constexpr int64_t kMaxSharedCounts = int64_t{1} << 26;  // 128 MB
  mutable std::vector<uint16_t> shared_counts{};
  mutable int64_t shared_rows = -1;

  const uint16_t* counts_of_every_resample(int64_t rows) const {
    if (shared_rows == rows) return shared_counts.empty() ? nullptr : shared_counts.data();
    shared_rows = rows;
    shared_counts.clear();
    if (rows * resamples > kMaxSharedCounts) return nullptr;
    shared_counts.resize(static_cast<size_t>(rows * resamples));
    std::atomic<bool> fits{true};
    at::parallel_for(0, resamples, 1, [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) {
        const std::vector<uint32_t> counts = diffusion::bootstrap_counts(rows, bootstrap_seed, b);
        for (int64_t i = 0; i < rows; ++i) {
          const uint32_t c = counts[static_cast<size_t>(i)];
          if (c > UINT16_MAX) fits = false;
          shared_counts[static_cast<size_t>(b * rows + i)] = static_cast<uint16_t>(c);
        }
      }
    });
    if (!fits) shared_counts.clear();
    return shared_counts.empty() ? nullptr : shared_counts.data();
  }

  // Resample b's counts for `rows` particles, from the shared table when it holds them (driver
  // thread only, as counts_of_every_resample).
  std::vector<uint32_t> counts(int64_t rows, int64_t b) const {
    const uint16_t* shared = counts_of_every_resample(rows);
    if (!shared) return diffusion::bootstrap_counts(rows, bootstrap_seed, b);
    return std::vector<uint32_t>(shared + b * rows, shared + (b + 1) * rows);
  }

  // Every metric's bootstrap replicates. Resamples are independent: spread over LibTorch's
  // threads; one pass over the particles per resample serves every metric.
  CellReplicates resample(const Particles& p) const {
    const auto B = static_cast<size_t>(resamples);
    CellReplicates replicates;
    std::vector<double>& sw_reps = replicates["sliced_wasserstein"];
    sw_reps.resize(B);
    std::vector<double>*te = nullptr, *tv = nullptr, *ld = nullptr;
    if (p.squared.defined()) (te = &replicates["trajectory_error"])->resize(B);
    at::Tensor weights;
    if (exact) {
      (tv = &replicates["mode_coverage_tv"])->resize(B);
      (ld = &replicates["mean_log_density"])->resize(B);
      weights = exact->component_weights().to(at::kCPU, at::kDouble).contiguous();
    }
    const double* sq = te ? p.squared.data_ptr<double>() : nullptr;
    const double* lp = exact ? p.log_density.data_ptr<double>() : nullptr;
    const int64_t* mp = exact ? p.modes.data_ptr<int64_t>() : nullptr;
    const double* wp = exact ? weights.data_ptr<double>() : nullptr;
    const double* inf = p.sw.influence.data_ptr<double>();
    const int64_t components = exact ? weights.numel() : 0, rows = p.rows;
    const auto particles = static_cast<double>(rows);
    const uint16_t* shared = counts_of_every_resample(rows);
    at::parallel_for(0, resamples, 1, [&](int64_t first, int64_t last) {
      std::vector<double> hist(static_cast<size_t>(components));
      std::vector<uint32_t> own;
      for (int64_t b = first; b < last; ++b) {
        if (!shared) own = diffusion::bootstrap_counts(rows, bootstrap_seed, b);
        const uint16_t* row = shared ? shared + b * rows : nullptr;
        std::fill(hist.begin(), hist.end(), 0.0);
        const ResampleSums sums = row ? resample_sums(row, rows, inf, sq, lp, mp, hist.data())
                                      : resample_sums(own.data(), rows, inf, sq, lp, mp, hist.data());
        const double sw_shift = sums.sw_shift, te_sum = sums.te, ld_sum = sums.ld;
        const auto k = static_cast<size_t>(b);
        sw_reps[k] = std::sqrt(std::max(0.0, p.sw.squared + sw_shift / particles));
        if (te) (*te)[k] = std::sqrt(te_sum / particles);
        if (ld) (*ld)[k] = ld_sum / particles;
        if (tv) {
          double total = 0;
          for (int64_t j = 0; j < components; ++j) total += std::fabs(hist[static_cast<size_t>(j)] / particles - wp[j]);
          (*tv)[k] = 0.5 * total;
        }
      }
    });
    return replicates;
  }
};

// Which rank runs each cell (in the sweep's order: schedule, steps, sampler), the same on every
// rank: longest first by estimated cost (steps x model calls per step, plus about two calls' worth
// for the metrics), each to the least-loaded rank (ties: the lower rank). Round-robin gave one rank
// every 10-step cell of a 5/10 sweep.
std::vector<int> assign_cells(const SweepPlan& plan, int world) {
  std::vector<double> cost;
  for (const auto& sched : plan.schedules)
    for (int64_t n : plan.steps)
      for (const auto& sname : plan.samplers)
        if (plan.runs(sched, n))
          cost.push_back(static_cast<double>(n * plan.sampler_objects.at(sname)->traits().evaluations_per_step) + 2);
  std::vector<size_t> order(cost.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return cost[x] > cost[y]; });
  std::vector<double> load(static_cast<size_t>(world), 0.0);
  std::vector<int> owner(cost.size(), 0);
  for (size_t k : order) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    owner[k] = static_cast<int>(least);
    load[static_cast<size_t>(least)] += cost[k];
  }
  return owner;
}

// Every rank's cells (`mine[i]` is cell `indices[i]`), in the single-process order.
std::vector<ReportCell> gather_cells(const Collectives& group, const std::vector<ReportCell>& mine,
                                     std::vector<CellReplicates>& replicates, const std::vector<int64_t>& indices,
                                     size_t total) {
  // Numbers travel as %.17g text: exact, and NaN / inf survive (JSON numbers would not).
  auto text = [](double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  nlohmann::json j = nlohmann::json::array();
  for (size_t q = 0; q < mine.size(); ++q) {
    const ReportCell& c = mine[q];
    std::map<std::string, std::string> metrics;
    for (const auto& [k, v] : c.metrics) metrics[k] = text(v);
    std::vector<std::string> sigmas;
    for (double v : c.sigmas) sigmas.push_back(text(v));
    std::map<std::string, std::vector<std::string>> reps;
    for (const auto& [k, list] : replicates[q])
      for (double v : list) reps[k].push_back(text(v));
    j.push_back({{"index", indices[q]},
                 {"replicates", reps},
                 {"schedule", c.schedule},
                 {"sampler", c.sampler},
                 {"steps", c.steps},
                 {"nfe", c.nfe},
                 {"wall_seconds", c.wall_seconds},
                 {"metrics", metrics},
                 {"sigmas", sigmas}});
  }
  std::vector<ReportCell> all(total);
  std::vector<CellReplicates> all_replicates(total);
  for (const auto& rank_text :
       group.all_gather_strings(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) {
    for (const auto& e : nlohmann::json::parse(rank_text)) {
      ReportCell c{e["schedule"], e["sampler"], e["steps"], e["nfe"], e["wall_seconds"], {}, {}};
      for (const auto& [k, v] : e["metrics"].items()) c.metrics[k] = std::stod(v.get<std::string>());
      for (const auto& v : e["sigmas"]) c.sigmas.push_back(std::stod(v.get<std::string>()));
      CellReplicates reps;
      for (const auto& [k, list] : e["replicates"].items())
        for (const auto& v : list) reps[k].push_back(std::stod(v.get<std::string>()));
      all.at(e["index"].get<size_t>()) = std::move(c);
      all_replicates.at(e["index"].get<size_t>()) = std::move(reps);
    }
  }
  replicates = std::move(all_replicates);
  return all;
}

// The noise floor of a distribution metric: its value between two independent sets of the target
// distribution with the sizes the cells are measured at, i.e. what a perfect sampler would score.
struct Floor {
  double value = NAN;
  diffusion::Interval interval{NAN, NAN};
  double exponent = NAN;  // the floor scales as (effective set size)^-exponent
};

// A floor's interval from the bootstrap of one of its two sets, widened by sqrt 2 about the value:
// the other set (the target) is as random and is not resampled.
diffusion::Interval floor_interval(double value, const std::vector<double>& replicates) {
  const diffusion::Interval i = diffusion::percentile_interval(replicates);
  return {value - std::sqrt(2.0) * (value - i.lo), value + std::sqrt(2.0) * (i.hi - value)};
}

// The effective size of a comparison between sets of a and b samples (1 / (1/a + 1/b)): sampling
// noise in a two-sample distance adds up as the sum of the inverse sizes.
double effective_size(double a, double b) { return 1.0 / (1.0 / a + 1.0 / b); }

// Measured from exact data (a fresh set against the target, and two sets a quarter of the size for
// the scaling) or from the connected reference samples (their halves and quarters, rescaled to the
// cells' sizes with the measured exponent). Distances against the reference solve need no floor:
// it comes from the same noise as the cells.
std::map<std::string, Floor> measure_floors(const ExactDensity* exact, const at::Tensor& target,
                                            bool target_is_independent, const diffusion::SlicedWassersteinReference& sw,
                                            int64_t batch, int64_t projections, uint64_t seed,
                                            const CellRunner& cells) {
  const uint64_t bootstrap_seed = cells.bootstrap_seed;
  const int64_t resamples = cells.resamples;
  std::map<std::string, Floor> floors;
  auto exponent_of = [](double small_set, double large_set, double size_ratio) {
    const double e = std::log(small_set / large_set) / std::log(size_ratio);
    return std::isfinite(e) ? std::clamp(e, 0.1, 1.0) : 0.5;  // 0.5: the central-limit rate
  };
  const int64_t quarter = batch / 4;
  if (exact) {
    at::Tensor fresh = exact->sample_data(batch, seed + 3);
    Floor sw_floor;
    // As in the cells: with intervals, one projection sort gives the value and the influence, and
    // the resamples' counts are the cells' (drawn once per sweep pass).
    std::vector<double> sw_reps, reps;
    if (resamples > 0) {
      const diffusion::SlicedWassersteinReference::Linearised lin = sw.linearised(fresh);
      sw_floor.value = sw.reference_size() == batch ? std::sqrt(lin.squared) : sw.distance(fresh);
      for (int64_t b = 0; b < resamples; ++b) sw_reps.push_back(lin.resampled(cells.counts(batch, b)));
      sw_floor.interval = floor_interval(sw_floor.value, sw_reps);
      sw_floor.interval.lo = std::max(0.0, sw_floor.interval.lo);
    } else {
      sw_floor.value = sw.distance(fresh);
    }
    Floor tv_floor;
    at::Tensor modes = diffusion::nearest_component(fresh, exact->component_means());
    tv_floor.value = diffusion::mode_coverage_tv_of(modes, exact->component_weights());
    for (int64_t b = 0; b < resamples; ++b)
      reps.push_back(diffusion::mode_coverage_tv_of(modes, exact->component_weights(), cells.counts(batch, b)));
    if (resamples > 0) {
      tv_floor.interval = floor_interval(tv_floor.value, reps);
      tv_floor.interval.lo = std::max(0.0, tv_floor.interval.lo);
    }
    if (quarter >= 16) {
      at::Tensor a = exact->sample_data(quarter, seed + 4), b = exact->sample_data(quarter, seed + 5);
      const double sw_quarter = diffusion::SlicedWassersteinReference(a, projections, seed + 7).distance(b);
      // Effective sizes batch / 2 (cells) and quarter / 2: a ratio of 4.
      sw_floor.exponent = exponent_of(sw_quarter, sw_floor.value, 4.0);
      tv_floor.exponent = exponent_of(
          diffusion::mode_coverage_tv(a, exact->component_means(), exact->component_weights()), tv_floor.value, 4.0);
    }
    floors["sliced_wasserstein"] = sw_floor;
    floors["mode_coverage_tv"] = tv_floor;
  } else if (target_is_independent && target.size(0) >= 64) {
    const int64_t m = target.size(0), half = m / 2, q = m / 4;
    const diffusion::SlicedWassersteinReference first_half(target.narrow(0, 0, half), projections, seed + 7);
    const at::Tensor second_half = target.narrow(0, half, half);
    const double at_half = first_half.distance(second_half);
    const double at_quarter = diffusion::SlicedWassersteinReference(target.narrow(0, 0, q), projections, seed + 7)
                                  .distance(target.narrow(0, q, q));
    Floor f;
    f.exponent = exponent_of(at_quarter, at_half, 2.0);
    // From the halves (effective size m / 4) to a cell against the whole target.
    const double scale =
        std::pow(effective_size(static_cast<double>(batch), static_cast<double>(m)) / (m / 4.0), -f.exponent);
    f.value = at_half * scale;
    if (resamples > 0) {
      diffusion::Interval i =
          floor_interval(at_half, first_half.resampled_distances(second_half, bootstrap_seed, resamples));
      f.interval = {std::max(0.0, i.lo) * scale, i.hi * scale};
    }
    floors["sliced_wasserstein"] = f;
  }
  return floors;
}

void annotate_floors(Report& report, const std::map<std::string, Floor>& floors) {
  for (auto& cell : report.cells)
    for (const auto& [m, f] : floors) {
      if (!cell.metrics.count(m)) continue;
      cell.metrics[metric_annotation(m, metric_keys::kFloor)] = f.value;
      cell.metrics[metric_annotation(m, metric_keys::kFloorLow)] = f.interval.lo;
      cell.metrics[metric_annotation(m, metric_keys::kFloorHigh)] = f.interval.hi;
      cell.metrics[metric_annotation(m, metric_keys::kFloorExponent)] = f.exponent;
    }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string t = "[";
  for (size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
  return t + "]";
}

// The evaluation seeds, comma separated: no empty entry, no duplicate, each an unsigned 64-bit
// integer, at most 64; blank: none (then `seed`). Declared in the contract (NumberListOf), so
// `validate` applies it without loading this plugin.
NumberListRule seed_list_rule() {
  NumberListRule rule;
  rule.integers = true;
  rule.commas_only = true;
  rule.blank_is_empty = true;
  rule.unique = true;
  rule.max_count = 64;
  rule.noun = "seed";
  return rule;
}

std::vector<uint64_t> sweep_seeds(const Inputs& in) {
  const std::string text = in.get_string("seeds");
  const NumberList list = parse_number_list(text, seed_list_rule());
  if (!list.ok()) throw InputError("seeds", "\"" + text.substr(0, 200) + "\"", list.error);
  std::vector<uint64_t> seeds = list.integers;
  if (seeds.empty()) seeds.push_back(in.get_uint("seed"));
  return seeds;
}

// One cell per schedule x sampler x steps from the runs of every seed: each metric the mean over
// the seeds, flips their sum; each replicate the mean of the seeds'
// replicates with the same resample index (a stratified bootstrap: every seed's particles are
// resampled within that seed).
std::vector<CellReplicates> combine_seeds(const std::vector<std::vector<ReportCell>>& cells,
                                          const std::vector<std::vector<CellReplicates>>& replicates,
                                          std::vector<ReportCell>& out) {
  const double seeds = static_cast<double>(cells.size());
  out = cells.front();
  std::vector<CellReplicates> combined = replicates.front();
  if (cells.size() == 1) return combined;
  for (size_t i = 0; i < out.size(); ++i) {
    for (auto& [key, value] : out[i].metrics) {
      auto ends_with = [&](const std::string& tail) {
        return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
      };
      // Particles stay per run: the noise floor, and the batch it suggests, are per run too.
      if (ends_with(std::string(":") + metric_keys::kParticles)) continue;
      const bool summed = ends_with(std::string(":") + metric_keys::kFlips);
      // Skewness adds up over the seeds' particles: the mean acceleration / sqrt(seeds).
      const double scale = ends_with(std::string(":") + metric_keys::kAcceleration) ? std::sqrt(seeds) : 1.0;
      double sum = 0;
      for (const auto& run : cells) {
        auto it = run[i].metrics.find(key);
        sum += it == run[i].metrics.end() ? NAN : it->second;
      }
      value = summed ? sum : sum / seeds / scale;
    }
    double wall = 0;
    for (const auto& run : cells) wall += run[i].wall_seconds;
    out[i].wall_seconds = wall;
    for (auto& [m, list] : combined[i])
      for (size_t b = 0; b < list.size(); ++b) {
        double sum = 0;
        for (const auto& run : replicates) sum += run[i].count(m) && b < run[i].at(m).size() ? run[i].at(m)[b] : NAN;
        list[b] = sum / seeds;
      }
  }
  return combined;
}

// The exact density behind mode coverage and log-density: the model's, or a connected mixture of
// the same sample shape (a learned network's target). Null: neither.
const ExactDensity* exact_density(const Inputs& in, const Model& model) {
  if (!in.has("reference_model")) return model.exact();
  auto reference_model = in.get<Model>("reference_model");
  if (reference_model->sample_shape() != model.sample_shape())
    throw InputError("reference_model", reference_model->describe(),
                     "its sample shape " + shape_text(reference_model->sample_shape()) + " differs from the model's " +
                         shape_text(model.sample_shape()));
  if (!reference_model->exact())
    throw InputError("reference_model", reference_model->describe(), "it has no exact density");
  return reference_model->exact();
}

// One sweep: the checks on construction (before any work), then one pass per seed, then the
// cells combined over the seeds with their intervals and floors.
class Sweep {
 public:
  Sweep(Context& ctx, const Inputs& in)
      : ctx_(ctx),
        in_(in),
        inner_(in.get<Model>("model")),
        model_(std::make_shared<TimedModel>(inner_)),
        plan_(plan_sweep(ctx, in)),
        ref_steps_(in.get_int("reference_steps")),
        batch_(in.get_int("batch")),
        resamples_(in.get_int("resamples")),
        seeds_(sweep_seeds(in)),
        group_(ctx.collectives()) {
    const int64_t max_steps = *std::max_element(plan_.steps.begin(), plan_.steps.end());
    if (ref_steps_ < max_steps)
      throw InputError("reference_steps", std::to_string(ref_steps_),
                       "the reference has fewer steps (" + std::to_string(ref_steps_) +
                           ") than the largest compared run (" + std::to_string(max_steps) + ")");
    check_batch_memory(*model_, batch_);
    exact_ = exact_density(in, *inner_);
    // The distance target has about as many rows as the batch.
    const int64_t sample_numel = std::accumulate(inner_->sample_shape().begin(), inner_->sample_shape().end(),
                                                 int64_t{1}, std::multiplies<int64_t>());
    check_projection_memory(2 * batch_, sample_numel, in.get_int("projections"));
    total_ = plan_.cell_count();
    // The bootstrap's counts are the same for every seed and cell: each seed's particles are
    // resampled alike, so the mean over seeds of a replicate is a resample of the whole set.
    bootstrap_seed_ = seeds_.front() ^ 0xB0075712A9ull;
  }

  std::shared_ptr<Report> run() {
    auto t_total = Clock::now();
    report_->model = inner_->describe();
    report_->metric_names = {"trajectory_error", "sliced_wasserstein"};
    if (exact_) report_->metric_names.insert(report_->metric_names.end(), {"mode_coverage_tv", "mean_log_density"});
    for (const auto& m : report_->metric_names) report_->lower_is_better[m] = m != "mean_log_density";
    const double model_before = model_->seconds();
    for (size_t k = 0; k < seeds_.size(); ++k) run_seed(k);
    std::vector<CellReplicates> replicates = combine_seeds(cells_per_seed_, replicates_per_seed_, report_->cells);
    auto t_annotate = Clock::now();
    annotate_intervals(*report_, replicates, is_stock_schedule);
    interval_seconds_ += seconds_since(t_annotate);
    annotate_floors(*report_, floors_);
    auto& t = report_->timings;
    t["interval_seconds"] = interval_seconds_;
    t["floor_seconds"] = floor_seconds_;
    t["schedule_seconds"] = sched_seconds_;
    t["sampling_seconds"] = sampling_seconds_;
    t["metric_seconds"] = metric_seconds_;
    t["reference_seconds"] = reference_seconds_;
    t["model_evaluation_seconds"] = model_->seconds();  // reference, schedules and cells
    t["cell_model_evaluation_seconds"] = model_->seconds() - model_before;
    t["sweep_seconds"] = seconds_since(t_total);
    t["model_evaluations"] = static_cast<double>(model_->calls());
    describe_reference();
    return report_;
  }

 private:
  // Progress: per seed, the reference solve is the first half of its share of the bar and the
  // cells the second (a plain log gets lines from inside the solve, most of a small sweep's time).
  void progress(size_t seed_index, int64_t done_in_phase, bool cells) {
    const auto phases = static_cast<int64_t>(seeds_.size());
    ctx_.progress(2 * static_cast<int64_t>(seed_index) * total_ + (cells ? total_ : 0) + done_in_phase,
                  2 * total_ * phases);
  }

  void run_seed(size_t k) {
    const uint64_t seed = seeds_[k];
    at::Tensor noise = diffusion::seeded_normal(seed, diffusion::batch_shape(batch_, model_->sample_shape()),
                                                model_->device(), model_->dtype());
    Report seed_report;
    at::Tensor reference = reference_solve(
        *model_, noise, ref_steps_, seed, seed_report, group_,
        [&](int64_t done, int64_t all) { progress(k, total_ * done / std::max<int64_t>(1, all), false); });
    if (k == 0) report_->reference = seed_report.reference;
    reference_seconds_ += seed_report.timings["reference_seconds"];
    at::Tensor reference_modes;
    if (exact_) reference_modes = diffusion::nearest_component(reference, exact_->component_means());
    at::Tensor target = distance_target(in_, exact_, noise, reference, batch_, seed, target_desc_);
    const diffusion::SlicedWassersteinReference sw(target, in_.get_int("projections"), seed + 7, group_);
    CellRunner cells{*model_, noise, reference, reference_modes, exact_, sw, seed, bootstrap_seed_, resamples_};
    std::vector<ReportCell> seed_cells;
    std::vector<CellReplicates> replicates;
    run_cells(k, cells, seed_cells, replicates);
    sampling_seconds_ += cells.sampling_seconds;
    metric_seconds_ += cells.metric_seconds;
    interval_seconds_ += cells.interval_seconds;
    if (k == 0) {  // the floor depends on the sizes, not on the seed
      auto t_floor = Clock::now();
      floors_ = measure_floors(exact_, target, in_.has("reference_samples"), sw, batch_, in_.get_int("projections"),
                               seed, cells);
      floor_seconds_ = seconds_since(t_floor);
    }
    cells_per_seed_.push_back(std::move(seed_cells));
    replicates_per_seed_.push_back(std::move(replicates));
  }

  // Under torchrun each rank runs the cells assigned to it; the cells are gathered afterwards.
  void run_cells(size_t k, CellRunner& cells, std::vector<ReportCell>& out, std::vector<CellReplicates>& replicates) {
    const int rank = group_ ? group_->rank() : 0, world = group_ ? group_->world_size() : 1;
    const std::vector<int> owner = assign_cells(plan_, world);
    std::vector<int64_t> mine;
    int64_t done = 0, index = 0;
    for (const auto& sched : plan_.schedules) {
      const bool per_sampler = ctx_.schedule_uses_sampler(sched);
      for (int64_t n : plan_.steps) {
        diffusion::Sigmas shared;
        if (!plan_.runs(sched, n)) continue;
        for (const auto& sname : plan_.samplers) {
          if (owner[static_cast<size_t>(index++)] != rank) continue;
          mine.push_back(index - 1);
          const Sampler& sampler = *plan_.sampler_objects[sname];
          auto t_s = Clock::now();
          if (plan_.extra.count(sched))
            shared = plan_.extra.at(sched);
          else if (per_sampler || shared.empty())
            shared = sweep_schedule(ctx_, *model_, sched, n, sampler, plan_.options.get());
          sched_seconds_ += seconds_since(t_s);
          replicates.emplace_back();
          out.push_back(cells.run(sched, sname, sampler, shared, n, replicates.back()));
          progress(k, std::min(done += world, total_), true);
        }
      }
    }
    if (world > 1) out = gather_cells(*group_, out, replicates, mine, static_cast<size_t>(total_));
  }

  void describe_reference() {
    report_->reference += "; distances against " + target_desc_;
    if (seeds_.size() > 1) {
      std::string list;
      for (uint64_t v : seeds_) list += (list.empty() ? "" : ", ") + std::to_string(v);
      report_->reference += "; " + std::to_string(seeds_.size()) + " seeds (" + list +
                            "): every value is the mean over them, flips their sum";
    }
    if (resamples_ > 0)
      report_->reference += "; intervals: 95 % paired bootstrap over the " + std::to_string(batch_) + " particles" +
                            (seeds_.size() > 1 ? " of each seed" : "") + " (" + std::to_string(resamples_) +
                            " resamples)";
  }

  Context& ctx_;
  const Inputs& in_;
  std::shared_ptr<const Model> inner_;
  std::shared_ptr<TimedModel> model_;
  SweepPlan plan_;
  int64_t ref_steps_, batch_, resamples_;
  std::vector<uint64_t> seeds_;
  const Collectives* group_;
  const ExactDensity* exact_ = nullptr;
  int64_t total_ = 0;
  uint64_t bootstrap_seed_ = 0;
  std::shared_ptr<Report> report_ = std::make_shared<Report>();
  std::vector<std::vector<ReportCell>> cells_per_seed_;
  std::vector<std::vector<CellReplicates>> replicates_per_seed_;
  std::map<std::string, Floor> floors_;
  std::string target_desc_;
  double sched_seconds_ = 0, sampling_seconds_ = 0, metric_seconds_ = 0, interval_seconds_ = 0, floor_seconds_ = 0,
         reference_seconds_ = 0;
};

std::shared_ptr<Report> run_sweep(Context& ctx, const Inputs& in) { return Sweep(ctx, in).run(); }

}  // namespace

NodeDef schedule_sweep_node() {
  NodeContract c = Node(
      "ScheduleSweep", kAbCategory,
      "Runs every schedule x sampler x step count from the same initial noise (seed) and measures each cell against a "
      "converged reference: trajectory_error (deterministic samplers; RMS distance to a heun solve with "
      "reference_steps karras steps from the same noise), sliced_wasserstein (against exact data samples when the "
      "model has them, else the reference), and for mixtures mode_coverage_tv and mean_log_density. Schedules and "
      "samplers are given by registered name (comma separated), score_optimal among them. Every metric carries a 95 % "
      "paired bootstrap interval over the particles, and a paired comparison with the best stock schedule of its "
      "column; distribution metrics carry their noise floor (the metric between two independent sets of the target).",
      {Port("model", "MODEL"), String("schedulers", "score_optimal, karras, exponential, align_your_steps, uniform"),
       String("samplers", "euler, heun, dpmpp_2m"), String("steps_list", "5, 10, 20"), Int("batch", 1000, 1, 1 << 22),
       Seed("seed"),
       Tooltip(String("seeds", ""),
               "evaluation seeds, comma separated (e.g. \"0, 1, 2\"): every cell runs with each, values are means "
               "over them and intervals resample each seed's particles; empty: seed alone"),
       Int("reference_steps", 1000, 2, 100000), Int("projections", 128, 1, 100000),
       Tooltip(Int("resamples", 200, 0, 10000),
               "bootstrap resamples behind every interval (95 %, paired over the particles); 0: no intervals"),
       Optional(Tooltip(Port("reference_samples", "LATENT"), "samples of the target distribution for distances")),
       Optional(Tooltip(Requires(Port("reference_model", "MODEL"), kExactDensity),
                        "an exact model of the target (a mixture): mode coverage and log-density for a learned "
                        "network, distances against its exact samples")),
       Optional(Tooltip(Port("extra_sigmas_1", "SIGMAS"),
                        "an extra candidate schedule (e.g. an OptimalStepsScheduler with other settings), run at its "
                        "own step count, which must be in steps_list; labelled by this input's name")),
       Optional(Tooltip(Port("extra_sigmas_2", "SIGMAS"), "a second extra candidate")),
       Optional(Tooltip(Port("schedule_options", "SCHEDULE_OPTIONS"),
                        "settings for one of the named schedules (OptimalStepsOptions for optimal_steps), used "
                        "wherever that schedule runs"))},
      {{"REPORT", "REPORT"}});
  // Sliced W2 holds 2 x batch rows' projections in float64 (16 x batch x projections bytes, and
  // the rows' values): refused at validation past 64 GiB, checked against memory at run time.
  c.constraints.push_back(
      ProductAtMost({"batch", "projections"}, {}, std::ldexp(1.0, 32),
                    "sliced W2 keeps 16 x batch x projections bytes of projections; at most 64 GiB"));
  c.constraints.push_back(NumberListOf("seeds", seed_list_rule()));
  return make_node(c, [](Context& ctx, const Inputs& in) { return Outputs{Value(run_sweep(ctx, in))}; });
}

}  // namespace sf::nodes
