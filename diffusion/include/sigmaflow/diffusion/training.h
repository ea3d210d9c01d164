// Training EDM denoisers: D(x, sigma) = c_skip x + c_out F(c_in x, sigma) for a TorchScript
// network F (networks.h), EDM's loss weighting, Adam with an EMA of the weights, noise levels
// from a pluggable distribution (lognormal, a fixed discrete schedule, or an adaptive one that
// measures the path's cost while training: scheduler/score_optimal/adaptive_levels.h).
//
// Determinism: step k draws its data rows, noise and levels from a CPU generator seeded by
// (seed, k), so a run resumed from a checkpoint takes the same steps as an uninterrupted one.
// Threading: a trainer is used from one thread.
// Errors: what a caller's setting or data got wrong is an sf::InputError naming the TrainDenoiser
// input it is about ("data", "lr", "sigma_min", "resume_from", ...), so a node passes it on
// without guessing the input from the exception's type; anything else is a plain exception.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::jit {
struct Module;
}

namespace sf::diffusion {

// EDM's loss weight lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 (= 1 / c_out^2).
double edm_loss_weight(double sigma, double sigma_data);

// D(x, sigma) of network `net` under EDM preconditioning, per-row levels `sigma` (host float64,
// one per row). Differentiable in the network's parameters when grad mode is on.
at::Tensor edm_denoise(torch::jit::Module& net, const at::Tensor& x, const std::vector<double>& sigma,
                       double sigma_data);

// Where training noise levels come from. Not thread-safe.
class NoiseLevelDistribution {
 public:
  virtual ~NoiseLevelDistribution();
  virtual std::string describe() const = 0;
  // Levels for one batch. `knots` receives, per row, the index of the discrete level drawn
  // (descending knots: 0 is the noisiest), or -1 for a continuous distribution.
  virtual std::vector<double> draw(int64_t batch, at::Generator& gen, std::vector<int64_t>& knots) = 0;
  // Whether step `step` should measure interval costs (one extra network evaluation).
  virtual bool wants_costs(int64_t /*step*/) const { return false; }
  // The less noisy level a row drawn at `knot` measures its cost towards (adaptive levels),
  // or a negative value when there is none.
  virtual double next_level(int64_t /*knot*/) const { return -1.0; }
  // Costs sigma'^2 ||s(x, sigma') - s(x, sigma)||^2 measured at `step`, one per row that had a
  // next level, with the row's knot.
  virtual void observe_costs(int64_t /*step*/, const std::vector<int64_t>& /*knots*/,
                             const std::vector<double>& /*costs*/) {}
  // The current discrete schedule (descending), empty for continuous distributions.
  virtual std::vector<double> knots() const { return {}; }
  // Schedule updates made so far, and the per-interval costs the last one was fitted to.
  virtual int64_t updates() const { return 0; }
  virtual std::vector<double> last_costs() const { return {}; }
  // State for checkpoints: a flat list of doubles that restore() takes back exactly.
  virtual std::vector<double> state() const { return {}; }
  virtual void restore(const std::vector<double>& /*state*/) {}
};

// EDM's lognormal: ln sigma ~ N(p_mean, p_std^2), clamped to [sigma_min, sigma_max].
class LogNormalLevels : public NoiseLevelDistribution {
 public:
  LogNormalLevels(double p_mean, double p_std, double sigma_min, double sigma_max);
  std::string describe() const override;
  std::vector<double> draw(int64_t batch, at::Generator& gen, std::vector<int64_t>& knots) override;

 private:
  double p_mean_, p_std_, sigma_min_, sigma_max_;
};

// A fixed discrete schedule: every row picks one of the knots uniformly.
class DiscreteLevels : public NoiseLevelDistribution {
 public:
  DiscreteLevels(std::vector<double> descending_knots, std::string name);
  std::string describe() const override;
  std::vector<double> draw(int64_t batch, at::Generator& gen, std::vector<int64_t>& knots) override;
  double next_level(int64_t knot) const override;
  std::vector<double> knots() const override { return knots_; }

 protected:
  std::vector<double> knots_;
  std::string name_;
};

// The paper's fixed baselines as `levels` descending knots from sigma_max to sigma_min:
// "linear" (equal steps in sigma), "geometric" (equal steps in log sigma), "cosine" (the
// improved-DDPM cosine schedule's sigma(t) = tan(pi t / 2) mapped onto [sigma_min, sigma_max]
// through t, equal steps in t). Throws an InputError about "schedule", "levels" or "sigma_min".
std::vector<double> discrete_schedule(const std::string& kind, int64_t levels, double sigma_min, double sigma_max);

struct TrainOptions {
  int64_t steps = 1000;
  int64_t batch = 256;
  double lr = 1e-3;
  double ema_decay = 0.999;
  double sigma_data = 0.5;
  uint64_t seed = 0;
  int64_t log_every = 50;  // loss curve resolution (steps)
  // LibTorch intra-op threads while training (0: leave as set). Small networks train faster on
  // one: at batch 256 the 2-D MLP ran 840 steps/s on 1 thread and 183 on 2 (bench_training).
  int threads = 0;
};

// What a run learned along the way.
struct TrainLog {
  std::vector<int64_t> loss_steps;  // last step of each logged interval
  std::vector<double> loss;         // mean training loss over that interval
  struct Snapshot {
    int64_t step = 0;
    std::vector<double> knots;  // the schedule after this update
    std::vector<double> costs;  // the per-interval costs it was fitted to
  };
  std::vector<Snapshot> snapshots;  // schedule updates of an adaptive distribution
  double seconds = 0.0;
};

class DenoiserTrainer {
 public:
  // `data` [N, ...sample shape] (any float dtype; trained in float32 on the CPU). Throws an
  // InputError about "data" (empty, not finite, a shape the network rejects) or the option at fault.
  DenoiserTrainer(std::shared_ptr<torch::jit::Module> net, at::Tensor data,
                  std::shared_ptr<NoiseLevelDistribution> levels, TrainOptions options);
  ~DenoiserTrainer();

  // Trains until options.steps or until `interrupt` is set (then returns false). Throws an
  // InputError about "lr", naming the step, when the loss becomes NaN or infinite.
  // `progress(step, loss)` is called after every step.
  bool run(const std::atomic<bool>* interrupt, const std::function<void(int64_t, double)>& progress);
  int64_t step() const { return step_; }
  const TrainLog& log() const { return log_; }
  const TrainOptions& options() const { return o_; }

  // A copy of the network holding the EMA weights, in eval mode, parameters without grad.
  std::shared_ptr<torch::jit::Module> ema_network() const;
  // The live (non-EMA) network.
  torch::jit::Module& network() { return *net_; }

  // Parameters, EMA, Adam state, step, loss log and the level distribution's state. Written
  // atomically (temporary file, then rename). load_checkpoint throws an InputError about
  // "resume_from" when the file does not fit this network or is not a checkpoint.
  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);

 private:
  double train_step();
  std::shared_ptr<torch::jit::Module> net_;
  at::Tensor data_;
  std::shared_ptr<NoiseLevelDistribution> levels_;
  TrainOptions o_;
  struct Optim;
  std::unique_ptr<Optim> optim_;
  std::vector<at::Tensor> params_, ema_;
  int64_t step_ = 0;
  double interval_loss_ = 0.0;
  int64_t interval_count_ = 0;
  TrainLog log_;
};

}  // namespace sf::diffusion
