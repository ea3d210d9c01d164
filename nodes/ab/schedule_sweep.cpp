// ScheduleSweep: the full schedule x sampler x steps matrix from one initial noise, with metrics
// against a converged reference.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
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
  std::vector<std::string> schedules, samplers;
  std::vector<int64_t> steps;
  std::map<std::string, std::shared_ptr<const Sampler>> sampler_objects;
};

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
  SamplerSettings settings;  // k-diffusion's defaults, as KSamplerSelect
  for (const auto& s : p.samplers) {
    auto obj = ctx.make_sampler(s, settings);
    if (!obj.ok()) throw InputError("samplers", s, obj.status().message());
    p.sampler_objects[s] = *obj;
  }
  return p;
}

// The schedule of a cell, as a SIGMAS value holds it (float32-rounded).
diffusion::Sigmas sweep_schedule(Context& ctx, const Model& model, const std::string& name, int64_t n,
                                 const Sampler& sampler) {
  ScheduleHints hints;
  hints.sampler = &sampler;
  auto st = ctx.compute_schedule(name, model, n, hints);
  if (!st.ok())
    throw InputError("schedulers", name,
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
                           const Collectives* group) {
  auto t0 = Clock::now();
  auto sig = diffusion::Sigmas(schedules::karras(steps, model.sigma_min(), model.sigma_max())).rounded_to_float32();
  SampleContext rctx;
  rctx.seed = seed;
  diffusion::TableSampler heun(*diffusion::find_sampler("heun"), SamplerSettings{});
  const int64_t n = noise.size(0);
  at::Tensor reference = diffusion::rows_gathered(group, n, [&](int64_t begin, int64_t end) {
    if (end - begin < n) {  // this rank's rows of the batch
      rctx.row_offset = begin;
      rctx.global_rows = n;
    }
    return heun.sample(model, noise.narrow(0, begin, end - begin) * sig[0], sig.values(), rctx);
  });
  report.timings["reference_seconds"] = seconds_since(t0);
  report.reference =
      "heun, " + std::to_string(steps) + " karras steps, same noise (" + std::to_string(rctx.nfe) + " NFE)";
  return reference;
}

// Samples the distances are measured against: the connected ones, exact data, or the reference.
at::Tensor distance_target(const Inputs& in, const Model& model, const at::Tensor& noise, const at::Tensor& reference,
                           int64_t batch, uint64_t seed, std::string& description) {
  if (in.has("reference_samples")) {
    Latent probe(noise);
    check_same_sample_shape(probe, "model samples", *in.get<Latent>("reference_samples"), "reference_samples");
    description = "the connected reference_samples";
    return in.get<Latent>("reference_samples")->samples();
  }
  if (const ExactDensity* exact = model.exact()) {
    description = "exact data samples";
    return exact->sample_data(batch, seed + 1);
  }
  description = "the reference solve";
  return reference;
}

struct CellRunner {
  const Model& model;
  const at::Tensor& noise;
  const at::Tensor& reference;
  const diffusion::SlicedWassersteinReference& sw;
  uint64_t seed;
  double sampling_seconds = 0, metric_seconds = 0;

  ReportCell run(const std::string& sched, const std::string& sampler_name, const Sampler& sampler,
                 const diffusion::Sigmas& sig, int64_t n) {
    ReportCell cell{sched, sampler_name, n, 0, 0.0, {}, sig.values()};
    SampleContext sc;
    sc.seed = seed;
    auto t0 = Clock::now();
    at::Tensor out = sampler.sample(model, noise * sig[0], sig.values(), sc);
    cell.wall_seconds = seconds_since(t0);
    sampling_seconds += cell.wall_seconds;
    cell.nfe = sc.nfe;
    auto t_m = Clock::now();
    if (!sampler.traits().stochastic) cell.metrics["trajectory_error"] = diffusion::rms_distance(out, reference);
    cell.metrics["sliced_wasserstein"] = sw.distance(out);
    if (const ExactDensity* exact = model.exact()) {
      cell.metrics["mode_coverage_tv"] =
          diffusion::mode_coverage_tv(out, exact->component_means(), exact->component_weights());
      cell.metrics["mean_log_density"] = exact->log_density(out, 0.0).mean().item<double>();
    }
    metric_seconds += seconds_since(t_m);
    return cell;
  }
};

// Which rank runs each cell (in the sweep's order: schedule, steps, sampler), the same on every
// rank: longest first by estimated cost (steps x model calls per step, plus about two calls' worth
// for the metrics), each to the least-loaded rank (ties: the lower rank). Round-robin gave one rank
// every 10-step cell of a 5/10 sweep.
std::vector<int> assign_cells(const SweepPlan& plan, int world) {
  std::vector<double> cost;
  for (size_t a = 0; a < plan.schedules.size(); ++a)
    for (int64_t n : plan.steps)
      for (const auto& sname : plan.samplers)
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
                                     const std::vector<int64_t>& indices, size_t total) {
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
    j.push_back({{"index", indices[q]},
                 {"schedule", c.schedule},
                 {"sampler", c.sampler},
                 {"steps", c.steps},
                 {"nfe", c.nfe},
                 {"wall_seconds", c.wall_seconds},
                 {"metrics", metrics},
                 {"sigmas", sigmas}});
  }
  std::vector<ReportCell> all(total);
  for (const auto& rank_text :
       group.all_gather_strings(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) {
    for (const auto& e : nlohmann::json::parse(rank_text)) {
      ReportCell c{e["schedule"], e["sampler"], e["steps"], e["nfe"], e["wall_seconds"], {}, {}};
      for (const auto& [k, v] : e["metrics"].items()) c.metrics[k] = std::stod(v.get<std::string>());
      for (const auto& v : e["sigmas"]) c.sigmas.push_back(std::stod(v.get<std::string>()));
      all.at(e["index"].get<size_t>()) = std::move(c);
    }
  }
  return all;
}

std::shared_ptr<Report> run_sweep(Context& ctx, const Inputs& in) {
  auto t_total = Clock::now();
  auto inner = in.get<Model>("model");
  auto model = std::make_shared<TimedModel>(inner);
  SweepPlan plan = plan_sweep(ctx, in);
  const int64_t ref_steps = in.get_int("reference_steps"), batch = in.get_int("batch");
  const int64_t max_steps = *std::max_element(plan.steps.begin(), plan.steps.end());
  if (ref_steps < max_steps)
    throw InputError("reference_steps", std::to_string(ref_steps),
                     "the reference has fewer steps (" + std::to_string(ref_steps) +
                         ") than the largest compared run (" + std::to_string(max_steps) + ")");
  const uint64_t seed = in.get_uint("seed");
  check_batch_memory(*model, batch);
  at::Tensor noise = diffusion::seeded_normal(seed, diffusion::batch_shape(batch, model->sample_shape()),
                                              model->device(), model->dtype());
  auto report = std::make_shared<Report>();
  report->model = inner->describe();
  const Collectives* group = ctx.collectives();
  // Before any work: the distance target has about as many rows as the batch.
  check_projection_memory(2 * noise.size(0), noise.numel() / std::max<int64_t>(1, noise.size(0)),
                          in.get_int("projections"));
  at::Tensor reference = reference_solve(*model, noise, ref_steps, seed, *report, group);
  std::string target_desc;
  at::Tensor target = distance_target(in, *inner, noise, reference, batch, seed, target_desc);
  report->metric_names = {"trajectory_error", "sliced_wasserstein"};
  if (inner->exact()) report->metric_names.insert(report->metric_names.end(), {"mode_coverage_tv", "mean_log_density"});
  for (const auto& m : report->metric_names) report->lower_is_better[m] = m != "mean_log_density";
  const diffusion::SlicedWassersteinReference sw(target, in.get_int("projections"), seed + 7, group);
  CellRunner cells{*model, noise, reference, sw, seed};
  const auto total = static_cast<int64_t>(plan.schedules.size() * plan.samplers.size() * plan.steps.size());
  int64_t done = 0, index = 0;
  double sched_seconds = 0, model_before = model->seconds();
  // Under torchrun each rank runs the cells assigned to it; the cells are gathered afterwards.
  const int rank = group ? group->rank() : 0, world = group ? group->world_size() : 1;
  const std::vector<int> owner = assign_cells(plan, world);
  std::vector<int64_t> mine;
  for (const auto& sched : plan.schedules) {
    const bool per_sampler = ctx.schedule_uses_sampler(sched);
    for (int64_t n : plan.steps) {
      diffusion::Sigmas shared;
      for (const auto& sname : plan.samplers) {
        if (owner[static_cast<size_t>(index++)] != rank) continue;
        mine.push_back(index - 1);
        const Sampler& sampler = *plan.sampler_objects[sname];
        auto t_s = Clock::now();
        if (per_sampler || shared.empty()) shared = sweep_schedule(ctx, *model, sched, n, sampler);
        sched_seconds += seconds_since(t_s);
        report->cells.push_back(cells.run(sched, sname, sampler, shared, n));
        ctx.progress(std::min(done += world, total), total);
      }
    }
  }
  if (world > 1) report->cells = gather_cells(*group, report->cells, mine, static_cast<size_t>(total));
  report->timings["schedule_seconds"] = sched_seconds;
  report->timings["sampling_seconds"] = cells.sampling_seconds;
  report->timings["metric_seconds"] = cells.metric_seconds;
  report->timings["model_evaluation_seconds"] = model->seconds();  // reference, schedules and cells
  report->timings["cell_model_evaluation_seconds"] = model->seconds() - model_before;
  report->timings["sweep_seconds"] = seconds_since(t_total);
  report->timings["model_evaluations"] = static_cast<double>(model->calls());
  report->reference += "; distances against " + target_desc;
  return report;
}

}  // namespace

NodeDef schedule_sweep_node() {
  NodeContract c = Node(
      "ScheduleSweep", kAbCategory,
      "Runs every schedule x sampler x step count from the same initial noise (seed) and measures each cell against a "
      "converged reference: trajectory_error (deterministic samplers; RMS distance to a heun solve with "
      "reference_steps karras steps from the same noise), sliced_wasserstein (against exact data samples when the "
      "model has them, else the reference), and for mixtures mode_coverage_tv and mean_log_density. Schedules and "
      "samplers are given by registered name (comma separated), score_optimal among them.",
      {Port("model", "MODEL"), String("schedulers", "score_optimal, karras, exponential, align_your_steps, uniform"),
       String("samplers", "euler, heun, dpmpp_2m"), String("steps_list", "5, 10, 20"), Int("batch", 1000, 1, 1 << 22),
       Seed("seed"), Int("reference_steps", 1000, 2, 100000), Int("projections", 128, 1, 100000),
       Optional(Tooltip(Port("reference_samples", "LATENT"), "samples of the target distribution for distances"))},
      {{"REPORT", "REPORT"}});
  return make_node(c, [](Context& ctx, const Inputs& in) { return Outputs{Value(run_sweep(ctx, in))}; });
}

}  // namespace sf::nodes
