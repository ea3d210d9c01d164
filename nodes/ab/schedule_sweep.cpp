// ScheduleSweep: the full schedule x sampler x steps matrix from one initial noise, with metrics
// against a converged reference.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <set>

#include "../common/sigmas.h"
#include "../common/text.h"
#include "../sampling/k_samplers.h"
#include "../schedulers/schedule_math.h"
#include "metrics.h"
#include "nodes.h"
#include "timed_model.h"

namespace sf::nodes {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

NodeDef schedule_sweep_node() {
  NodeContract c;
  c.class_type = "ScheduleSweep";
  c.category = kAbCategory;
  c.description =
      "Runs every schedule x sampler x step count from the same initial noise (seed) and measures each cell against a "
      "converged reference: trajectory_error (deterministic samplers; RMS distance to a heun solve with "
      "reference_steps karras steps from the same noise), sliced_wasserstein (against exact data samples when the "
      "model has them, else the reference), and for mixtures mode_coverage_tv and mean_log_density. Schedules and "
      "samplers are given by registered name (comma separated), score_optimal among them.";
  c.inputs = {Port("model", "MODEL"),
              String("schedulers", "score_optimal, karras, exponential, align_your_steps, uniform"),
              String("samplers", "euler, heun, dpmpp_2m"),
              String("steps_list", "5, 10, 20"),
              Int("batch", 1000, 1, 1 << 22),
              Int("seed", 0, 0, 9223372036854775807.0),
              Int("reference_steps", 1000, 2, 100000),
              Int("projections", 128, 1, 100000),
              Optional(Tooltip(Port("reference_samples", "LATENT"), "samples of the target distribution for distances"))};
  c.outputs = {{"REPORT", "REPORT"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto t_total = std::chrono::steady_clock::now();
    auto inner = in.get<Model>("model");
    auto model = std::make_shared<TimedModel>(inner);
    auto schedules = split_list(in.get_string("schedulers"));
    auto samplers = split_list(in.get_string("samplers"));
    std::vector<int64_t> steps_list;
    for (const auto& s : split_list(in.get_string("steps_list"))) {
      double v = 0;
      if (!parse_number(s, v) || v < 1 || v != std::floor(v))
        throw InputError("steps_list", "\"" + in.get_string("steps_list") + "\"", "'" + s + "' is not a step count >= 1");
      steps_list.push_back(static_cast<int64_t>(v));
    }
    if (schedules.empty()) throw InputError("schedulers", "\"\"", "no schedule names given");
    if (samplers.empty()) throw InputError("samplers", "\"\"", "no sampler names given");
    if (steps_list.empty()) throw InputError("steps_list", "\"\"", "no step counts given");
    auto known_sched = ctx.schedule_names();
    for (const auto& s : schedules)
      if (std::find(known_sched.begin(), known_sched.end(), s) == known_sched.end())
        throw InputError("schedulers", s, "unknown scheduler '" + s + "' (registered: " + join(known_sched) + ")");
    auto known_samp = ctx.sampler_names();
    std::map<std::string, std::shared_ptr<const Sampler>> sampler_objs;
    for (const auto& s : samplers) {
      if (std::find(known_samp.begin(), known_samp.end(), s) == known_samp.end())
        throw InputError("samplers", s, "unknown sampler '" + s + "' (registered: " + join(known_samp) + ")");
      std::string err;
      sampler_objs[s] = ctx.make_sampler(s, err);
      if (!sampler_objs[s]) throw InputError("samplers", s, err);
    }
    const int64_t ref_steps = in.get_int("reference_steps");
    const int64_t max_steps = *std::max_element(steps_list.begin(), steps_list.end());
    if (ref_steps < max_steps)
      throw InputError("reference_steps", std::to_string(ref_steps),
                       "the reference has fewer steps (" + std::to_string(ref_steps) + ") than the largest compared run (" +
                           std::to_string(max_steps) + ")");
    const int64_t batch = in.get_int("batch");
    const auto seed = static_cast<uint64_t>(in.get_int("seed"));

    // One initial noise for every cell (CPU float32 from the seed, as RandomNoise).
    std::vector<int64_t> shape{batch};
    for (auto d : model->sample_shape()) shape.push_back(d);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::Tensor noise = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)).to(model->device(), model->dtype());

    auto report = std::make_shared<Report>();
    report->model = inner->describe();

    // The reference: a converged probability-flow ODE solve from the same noise.
    auto t_ref = std::chrono::steady_clock::now();
    std::vector<double> ref_sigmas = sigmas_vector(sigmas_tensor(schedules::karras(ref_steps, model->sigma_min(), model->sigma_max())));
    SampleContext rctx;
    rctx.seed = seed;
    SamplerOptions ho;
    ho.name = "heun";
    at::Tensor reference = run_sampler(ho, *model, noise * ref_sigmas[0], ref_sigmas, rctx);
    report->timings["reference_seconds"] = seconds_since(t_ref);
    report->reference = "heun, " + std::to_string(ref_steps) + " karras steps, same noise (" + std::to_string(rctx.nfe) + " NFE)";

    at::Tensor target;
    std::string target_desc;
    if (in.has("reference_samples")) {
      target = in.get<Latent>("reference_samples")->samples();
      Latent probe(noise);
      check_same_sample_shape(probe, "model samples", *in.get<Latent>("reference_samples"), "reference_samples");
      target_desc = "the connected reference_samples";
    } else {
      target = inner->sample_data(batch, seed + 1);
      target_desc = target.defined() ? "exact data samples" : "the reference solve";
      if (!target.defined()) target = reference;
    }
    const bool mixture = inner->component_means().defined();
    at::Tensor log_density_probe = inner->log_density(reference.slice(0, 0, 1), 0.0);
    report->metric_names = {"trajectory_error", "sliced_wasserstein"};
    if (mixture) report->metric_names.push_back("mode_coverage_tv");
    if (log_density_probe.defined()) report->metric_names.push_back("mean_log_density");
    for (const auto& m : report->metric_names) report->lower_is_better[m] = m != "mean_log_density";
    const SlicedWassersteinReference sw_target(target, in.get_int("projections"), seed + 7);

    const int64_t total = static_cast<int64_t>(schedules.size() * samplers.size() * steps_list.size());
    int64_t done = 0;
    double sched_seconds = 0, metric_seconds = 0, sampling_seconds = 0;
    double model_before = model->seconds();
    for (const auto& sched : schedules) {
      for (int64_t n : steps_list) {
        auto t_s = std::chrono::steady_clock::now();
        at::Tensor st;
        std::string err;
        // Through the timed proxy, so evaluations a schedule spends (score-optimal estimates) count
        // as model time; the fingerprint is the inner model's, so caches still apply.
        if (!ctx.compute_schedule(sched, *model, n, st, err))
          throw InputError("schedulers", sched, "schedule '" + sched + "' failed for " + std::to_string(n) + " steps: " + err);
        std::vector<double> sig = sigmas_vector(sigmas_tensor(sigmas_vector(st)));
        sched_seconds += seconds_since(t_s);
        check_sampling_sigmas(sig, "schedulers");
        for (const auto& sname : samplers) {
          ReportCell cell;
          cell.schedule = sched;
          cell.sampler = sname;
          cell.steps = n;
          cell.sigmas = sig;
          SampleContext sc;
          sc.seed = seed;
          auto t0 = std::chrono::steady_clock::now();
          at::Tensor out = sampler_objs[sname]->sample(*model, noise * sig[0], sig, sc);
          cell.wall_seconds = seconds_since(t0);
          sampling_seconds += cell.wall_seconds;
          cell.nfe = sc.nfe;
          auto t_m = std::chrono::steady_clock::now();
          if (!is_stochastic(sname)) cell.metrics["trajectory_error"] = rms_distance(out, reference);
          cell.metrics["sliced_wasserstein"] = sw_target.distance(out);
          if (mixture) cell.metrics["mode_coverage_tv"] = mode_coverage_tv(out, inner->component_means(), inner->component_weights());
          if (log_density_probe.defined()) cell.metrics["mean_log_density"] = inner->log_density(out, 0.0).mean().item<double>();
          metric_seconds += seconds_since(t_m);
          report->cells.push_back(std::move(cell));
          ctx.progress(++done, total);
        }
      }
    }
    report->timings["schedule_seconds"] = sched_seconds;
    report->timings["sampling_seconds"] = sampling_seconds;
    report->timings["metric_seconds"] = metric_seconds;
    report->timings["model_evaluation_seconds"] = model->seconds();  // reference, schedules and cells
    report->timings["cell_model_evaluation_seconds"] = model->seconds() - model_before;
    report->timings["sweep_seconds"] = seconds_since(t_total);
    report->timings["model_evaluations"] = static_cast<double>(model->calls());
    report->reference += "; distances against " + target_desc;
    return Outputs{Value(std::shared_ptr<const Object>(report))};
  });
}

}  // namespace sf::nodes
