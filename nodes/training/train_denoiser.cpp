// TrainDenoiser: trains an EDM denoiser on a LATENT dataset and returns it as a MODEL, with the
// TorchScript file, the learned schedule and the training diagnostics.
#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "nodes.h"
#include "outputs.h"
#include "sigmaflow/diagnostics.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/networks.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/diffusion/torchscript_model.h"
#include "sigmaflow/files.h"
#include "sigmaflow/scheduler/score_optimal/adaptive_levels.h"
#include "text.h"

namespace sf::nodes {
namespace {

using diffusion::DenoiserTrainer;
using diffusion::NoiseLevelDistribution;

// Parameter count at size knob `x` (mlp width, unet channels), which enters every layer at most
// squared: fitted exactly from three small builds at step `h` and extrapolated, so the memory a
// network needs is known before it is built.
double projected_parameters(const std::function<int64_t(int64_t)>& count_at, int64_t h, int64_t x) {
  const double p1 = static_cast<double>(count_at(h)), p2 = static_cast<double>(count_at(2 * h)),
               p3 = static_cast<double>(count_at(3 * h));
  const double a = (p3 - 2 * p2 + p1) / 2, b = p2 - p1 - 3 * a, c = p1 - a - b;
  const double t = static_cast<double>(x) / static_cast<double>(h);
  return a * t * t + b * t + c;
}

// Weights, their EMA, gradients and Adam's two moments: five float32 copies.
void check_network_memory(const std::string& input, int64_t value, double parameters) {
  const double bytes = parameters * 4.0 * 5.0;
  Status mem = bytes > 1.8e19 ? ResourceExhausted("the network's size overflows")
                              : diffusion::check_allocation(static_cast<uint64_t>(bytes),
                                                            "a network of " + number_text(parameters) +
                                                                " parameters (weights, EMA, gradients, Adam state)");
  if (!mem.ok()) throw InputError(input, std::to_string(value), mem.message(), Code::kResourceExhausted);
}

std::shared_ptr<torch::jit::Module> make_network(const Inputs& in, const at::Tensor& data) {
  const std::string& arch = in.get_string("architecture");
  std::vector<int64_t> shape(data.sizes().begin() + 1, data.sizes().end());
  // The networks' own errors name the input they are about (data, unet_channels).
  if (arch == "mlp") {
    diffusion::MlpSpec s;
    s.dim = 1;
    for (int64_t d : shape) s.dim *= d;
    s.width = in.get_int("width");
    s.depth = in.get_int("depth");
    if (s.width > 1024) {
      diffusion::MlpSpec probe = s;
      check_network_memory("width", s.width,
                           projected_parameters(
                               [&](int64_t w) {
                                 probe.width = w;
                                 return diffusion::parameter_count(*diffusion::make_mlp(probe, 0));
                               },
                               1, s.width));
    }
    return diffusion::make_mlp(s, in.get_uint("seed"));
  }
  if (shape.size() != 3)
    throw InputError("data", c10::str(data.sizes()),
                     "does not fit architecture 'unet': the unet takes images [C, H, W]; the data has samples of "
                     "shape " +
                         c10::str(shape) + " (LoadDataset's image_shape, e.g. \"1, 28, 28\", gives them one)");
  diffusion::UnetSpec s;
  s.channels = shape[0];
  s.height = shape[1];
  s.width = shape[2];
  s.base = in.get_int("unet_channels");
  if (s.base > 64) {
    diffusion::UnetSpec probe = s;
    check_network_memory("unet_channels", s.base,
                         projected_parameters(
                             [&](int64_t b) {
                               probe.base = b;
                               return diffusion::parameter_count(*diffusion::make_unet(probe, 0));
                             },
                             8, s.base));
  }
  return diffusion::make_unet(s, in.get_uint("seed"));
}

std::shared_ptr<NoiseLevelDistribution> make_levels(Context& ctx, const Inputs& in, int64_t dim) {
  const std::string& kind = in.get_string("noise_levels");
  const double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
  if (kind == "lognormal")
    return std::make_shared<diffusion::LogNormalLevels>(in.get_float("p_mean"), in.get_float("p_std"), smin, smax);
  const std::string& base = in.get_string("schedule");
  std::vector<double> knots = diffusion::discrete_schedule(base, in.get_int("levels"), smin, smax);
  if (kind == "fixed") return std::make_shared<diffusion::DiscreteLevels>(knots, base);
  so::AdaptiveOptions o;
  o.gamma = in.get_float("gamma");
  o.n_min = in.get_int("n_min");
  o.burn_in = in.get_int("burn_in");
  o.floor = in.get_float("floor");
  o.max_spacing = in.get_float("max_spacing") <= 1 ? INFINITY : in.get_float("max_spacing");
  o.dim = dim;
  if (o.burn_in >= in.get_int("steps"))
    ctx.warn("burn_in (" + std::to_string(o.burn_in) + ") is not shorter than steps (" +
             std::to_string(in.get_int("steps")) + "): the schedule never adapts; this trains on the fixed " + base +
             " schedule");
  return std::make_shared<so::AdaptiveLevels>(knots, o);  // its errors name their input
}

// The learned schedule as SIGMAS: the discrete levels, or for lognormal the levels at `levels`
// equally spaced quantiles; then the trailing 0.
std::vector<double> learned_sigmas(const Inputs& in, const NoiseLevelDistribution& levels) {
  std::vector<double> k = levels.knots();
  if (k.empty()) {
    const int64_t n = in.get_int("levels");
    const double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
    for (int64_t i = 0; i < n; ++i) {
      const double q = (static_cast<double>(n - 1 - i) + 0.5) / static_cast<double>(n);
      // Inverse normal CDF by bisection on erf (float64, exact enough for a schedule).
      double lo = -10, hi = 10;
      for (int it = 0; it < 100; ++it) {
        double mid = 0.5 * (lo + hi);
        (0.5 * (1 + std::erf(mid / std::sqrt(2.0))) < q ? lo : hi) = mid;
      }
      k.push_back(std::clamp(std::exp(in.get_float("p_mean") + in.get_float("p_std") * 0.5 * (lo + hi)), smin, smax));
    }
    for (size_t i = 1; i < k.size(); ++i) k[i] = std::min(k[i], k[i - 1] * (1 - 1e-12));
  }
  k.push_back(0.0);
  return k;
}

std::string settings_json(const Inputs& in, const NoiseLevelDistribution& levels, int64_t params) {
  nlohmann::json j;
  for (const char* name : {"architecture", "noise_levels", "schedule"}) j[name] = in.get_string(name);
  for (const char* name : {"steps", "batch", "width", "depth", "unet_channels", "levels", "n_min", "burn_in"})
    j[name] = in.get_int(name);
  for (const char* name :
       {"lr", "ema_decay", "gamma", "floor", "max_spacing", "p_mean", "p_std", "sigma_min", "sigma_max"})
    j[name] = in.get_float(name);
  j["seed"] = in.get_uint("seed");
  j["levels_description"] = levels.describe();
  j["parameters"] = params;
  return j.dump();
}

}  // namespace

namespace {

NodeContract train_denoiser_contract() {
  NodeContract c = Node(
      "TrainDenoiser", kTrainingCategory,
      "Trains an EDM-preconditioned denoiser (an MLP with a sinusoidal noise embedding for vectors, or a small UNet "
      "for "
      "images) with Adam and an EMA of the weights, EDM's loss weighting, and noise levels from EDM's lognormal, a "
      "fixed discrete schedule, or 'adaptive': the score-optimal schedule learned while training (the paper's "
      "Algorithm 2: levels drawn from the current schedule, interval costs from the training batch plus one extra "
      "evaluation, a resample once every level was visited n_min times, t <- gamma t* + (1 - gamma) t, after a "
      "burn-in on the fixed schedule). Returns the EMA network as a MODEL (edm, time input sigma), writes it as an "
      "ordinary TorchScript file, the training log (loss curve, schedule snapshots, per-level costs) and plots. Ctrl-C "
      "writes a checkpoint; resume_from continues from one.",
      {Tooltip(Port("data", "LATENT"), "training samples [N, ...]: SampleData, LoadDataset"),
       Combo("architecture", {"mlp", "unet"}),
       Int("steps", 2000, 0, 100000000),
       Int("batch", 256, 1, 65536),
       Tooltip(Float("lr", 1e-3, 1e-8, 1.0, 1e-4), "Adam learning rate"),
       Tooltip(Float("ema_decay", 0.999, 0.0, 0.999999, 0.0001),
               "EMA of the weights (warm-up min(decay, (1+k)/(10+k)))"),
       Tooltip(Float("sigma_data", 0.0, 0.0, 10000.0, 0.01), "EDM's sigma_data; 0 = the data's standard deviation"),
       Seed("seed"),
       Tooltip(Combo("noise_levels", {"lognormal", "fixed", "adaptive"}),
               "lognormal: EDM's p_mean/p_std; fixed: the discrete `schedule`; adaptive: Algorithm 2 from `schedule`"),
       Tooltip(Combo("schedule", {"linear", "geometric", "cosine"}),
               "the fixed discrete schedule, and the start (burn-in) of the adaptive one"),
       Tooltip(Int("levels", 64, 2, 4096), "knots of the discrete schedule"),
       Tooltip(Float("gamma", 0.1, 1e-6, 1.0, 0.01), "adaptive: blend t <- gamma t* + (1 - gamma) t, in (0, 1]"),
       Tooltip(Int("n_min", 8, 1, 1000000), "adaptive: visits of every level before a resample"),
       Tooltip(Int("burn_in", 500, 0, 100000000), "adaptive: steps on the fixed schedule first"),
       Tooltip(Float("floor", 0.1, 0.0, 1000.0, 0.01), "adaptive: tail prior weight, as ScoreOptimalScheduler's floor"),
       Tooltip(Float("max_spacing", 8.0, 0.0, 1e6, 0.5),
               "adaptive guard: no interval wider in log sigma than this many geometric spacings (0 = off)"),
       Tooltip(Float("p_mean", -1.2, -20.0, 20.0, 0.1), "lognormal: mean of ln sigma"),
       Tooltip(Float("p_std", 1.2, 1e-3, 20.0, 0.1), "lognormal: std of ln sigma"),
       Float("sigma_min", 0.002, 1e-6, 1e4, 0.001),
       Float("sigma_max", 80.0, 1e-5, 1e5, 0.1),
       Tooltip(Int("width", 128, 1, 65536), "mlp: hidden units"),
       Tooltip(Int("depth", 3, 1, 64), "mlp: hidden layers"),
       Tooltip(Int("unet_channels", 16, 8, 1024), "unet: channels at full resolution (a multiple of 8)"),
       Tooltip(Int("threads", 0, 0, 4096), "LibTorch threads while training; 0 = 1 for the mlp, all for the unet"),
       Tooltip(String("resume_from", ""), "a checkpoint written by an interrupted run (same settings)"),
       String("filename_prefix", "train/denoiser")},
      {OutputSpec("MODEL", "MODEL", {}, "the EMA network (edm, time input sigma)"),
       OutputSpec("SIGMAS", "SIGMAS", {}, "the training levels at the end (adaptive: the learned schedule)"),
       OutputSpec("SCHEDULE_DIAGNOSTICS", "diagnostics", {}, "levels and the per-level costs of the last update")});
  c.constraints = {Less("sigma_min", "sigma_max")};
  return c;
}

at::Tensor checked_data(const Inputs& in) {
  at::Tensor data = in.get<Latent>("data")->samples();
  if (!data.defined() || data.dim() < 2 || data.size(0) == 0)
    throw InputError("data", data.defined() ? c10::str(data.sizes()) : "undefined",
                     "the dataset is empty: training needs at least one sample");
  if (!at::isFloatingType(data.scalar_type()) || !data.isfinite().all().item<bool>())
    throw InputError("data", c10::str(data.sizes()), "the dataset must hold finite floating-point values");
  return data.to(at::kCPU, at::kFloat);
}

diffusion::TrainOptions train_options(const Inputs& in, const at::Tensor& data) {
  diffusion::TrainOptions o;
  o.steps = in.get_int("steps");
  o.batch = in.get_int("batch");
  o.lr = in.get_float("lr");
  o.ema_decay = in.get_float("ema_decay");
  o.seed = in.get_uint("seed");
  o.sigma_data = in.get_float("sigma_data") > 0 ? in.get_float("sigma_data") : data.std().item<double>();
  if (!(o.sigma_data > 0))
    throw InputError("sigma_data", "0", "the data's standard deviation is 0 (all samples equal); give sigma_data");
  o.log_every = std::max<int64_t>(1, o.steps / 200);
  o.threads = static_cast<int>(in.get_int("threads"));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.threads > cores)
    throw InputError("threads", std::to_string(o.threads),
                     "more threads than this machine's " + std::to_string(cores) +
                         " cores (0 picks: 1 for the mlp, all cores for the unet)");
  if (o.threads == 0 && in.get_string("architecture") == "mlp") o.threads = 1;
  return o;
}

// Trains to the end, with a progress bar and a log line (loss, it/s) every tenth of the run. On
// an interrupt: writes <base>_checkpoint.pt and stops the run.
void train_with_progress(Context& ctx, DenoiserTrainer& trainer, const std::string& base) {
  const diffusion::TrainOptions& o = trainer.options();
  auto t0 = std::chrono::steady_clock::now();
  int64_t start = trainer.step(), last_info = start;
  auto report = [&](int64_t step, double loss) {
    ctx.progress(step, o.steps);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (step - last_info >= std::max<int64_t>(1, o.steps / 10) || step == o.steps) {
      last_info = step;
      ctx.info("step " + std::to_string(step) + "/" + std::to_string(o.steps) + "  loss " + number_text(loss) + "  " +
               number_text(static_cast<double>(step - start) / std::max(s, 1e-9)) + " it/s");
    }
  };
  const bool finished = trainer.run(ctx.interrupt_flag(), report);  // a diverging loss is an error about lr
  if (!finished) {
    const std::string ckpt = base + "_checkpoint.pt";
    trainer.save_checkpoint(ckpt);
    ctx.record_output(ckpt);
    ctx.warn("interrupted at step " + std::to_string(trainer.step()) + "; checkpoint written to " + ckpt +
             " (resume_from continues from it)");
    throw Interrupted();
  }
}

// The metadata the saved network carries (the same object goes into _training.json).
std::string network_metadata_of(const Model& model) {
  diffusion::TorchScriptSettings ts;
  ts.parametrization = model.info().parametrization;
  ts.time_input = model.info().time_input;
  ts.sigma_data = model.sigma_data();
  ts.sigma_min = model.sigma_min();
  ts.sigma_max = model.sigma_max();
  ts.sample_shape = model.sample_shape();
  return diffusion::network_metadata_json(ts);
}

// The EMA network saved as TorchScript at `model_path`; the same module in memory is the MODEL.
std::shared_ptr<const Model> save_model(Context& ctx, const Inputs& in, DenoiserTrainer& trainer,
                                        const std::string& model_path, const at::Tensor& data) {
  auto ema = trainer.ema_network();
  diffusion::TorchScriptSettings ts;
  ts.path = model_path;
  ts.parametrization = Parametrization::kEdm;
  ts.time_input = TimeInput::kSigma;
  ts.sigma_data = trainer.options().sigma_data;
  ts.sigma_min = in.get_float("sigma_min");
  ts.sigma_max = in.get_float("sigma_max");
  ts.sample_shape.assign(data.sizes().begin() + 1, data.sizes().end());
  // The settings travel inside the archive, so TorchScriptModel reloads it with none given.
  std::ostringstream bytes;
  ema->save(bytes, {{diffusion::kNetworkMetadataFile, diffusion::network_metadata_json(ts)}});
  Status st = write_file_atomic(model_path, bytes.str());
  if (!st.ok()) throw InputError("filename_prefix", "\"" + in.get_string("filename_prefix") + "\"", st.message());
  ctx.record_output(model_path);
  return diffusion::TorchScriptModel::from_module(ts, *ema, bytes.str());
}

}  // namespace

NodeDef train_denoiser_node() {
  return make_node(train_denoiser_contract(), [](Context& ctx, const Inputs& in) {
    at::Tensor data = checked_data(in);
    diffusion::TrainOptions o = train_options(in, data);
    const std::string model_path = output_file(ctx, in.get_string("filename_prefix"), ".pt");
    // <prefix>_00001_.pt -> <prefix>_00001_training.json, ..._loss.png, ...
    const std::string base = model_path.substr(0, model_path.size() - 4);
    auto levels = make_levels(ctx, in, data.numel() / data.size(0));
    const std::vector<double> initial_knots = levels->knots();
    auto net = make_network(in, data);
    DenoiserTrainer trainer(net, data, levels, o);
    if (!in.get_string("resume_from").empty()) {
      const std::string from = input_path(ctx, in, "resume_from");
      // A FIFO would block LibTorch's reader forever, /dev/zero would feed it without end.
      auto readable = check_readable_file(from, kMaxDataFileBytes);
      if (!readable.ok()) throw InputError("resume_from", "\"" + from + "\"", readable.status().message());
      trainer.load_checkpoint(from);  // its errors are about resume_from
      ctx.info("resumed from step " + std::to_string(trainer.step()));
      if (trainer.step() >= in.get_int("steps"))
        ctx.warn("the checkpoint is at step " + std::to_string(trainer.step()) + ", at or past steps (" +
                 std::to_string(in.get_int("steps")) +
                 "): nothing is left to train; the network saved is the checkpoint's (raise steps to train on)");
    }
    ctx.info("training " + in.get_string("architecture") + " (" + std::to_string(diffusion::parameter_count(*net)) +
             " parameters) on " + std::to_string(data.size(0)) + " samples, levels " + levels->describe());
    train_with_progress(ctx, trainer, base);
    auto model = save_model(ctx, in, trainer, model_path, data);
    std::vector<double> sig = learned_sigmas(in, *levels);
    std::vector<double> final_knots(sig.begin(), sig.end() - 1);
    for (const auto& f : write_training_report(
             base, "TrainDenoiser " + ctx.node_id(), trainer.log(), initial_knots, final_knots,
             settings_json(in, *levels, diffusion::parameter_count(*net)), network_metadata_of(*model)))
      ctx.record_output(f);
    auto diag = std::make_shared<ScheduleDiagnostics>();
    diag->method = "TrainDenoiser " + ctx.node_id() + " levels";
    diag->grid = final_knots;
    diag->interval_cost = levels->last_costs();
    diag->schedule = final_knots;
    diag->seconds = trainer.log().seconds;
    return Outputs{Value(model), diffusion::Sigmas(sig).to_value(), Value(std::shared_ptr<const Object>(diag))};
  });
}

}  // namespace sf::nodes
