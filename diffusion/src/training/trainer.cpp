#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/api/include/torch/optim/adam.h>
#include <torch/csrc/api/include/torch/serialize/archive.h>
#include <torch/csrc/jit/api/module.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/training.h"
#include "sigmaflow/model.h"

namespace sf::diffusion {

double edm_loss_weight(double sigma, double sigma_data) {
  return (sigma * sigma + sigma_data * sigma_data) / (sigma * sigma_data * sigma * sigma_data);
}

namespace {

// A [B] float64 host vector as a tensor broadcastable against x [B, ...].
at::Tensor column(const std::vector<double>& v, const at::Tensor& x) {
  at::Tensor t = at::empty({static_cast<int64_t>(v.size())}, at::kDouble);
  std::copy(v.begin(), v.end(), t.data_ptr<double>());
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[0] = static_cast<int64_t>(v.size());
  return t.to(x.options()).view(view);
}

}  // namespace

at::Tensor edm_denoise(torch::jit::Module& net, const at::Tensor& x, const std::vector<double>& sigma,
                       double sigma_data) {
  const size_t B = sigma.size();
  std::vector<double> c_skip(B), c_out(B), c_in(B), times(B);
  for (size_t b = 0; b < B; ++b) {
    Scalings k = scalings(Parametrization::kEdm, TimeInput::kSigma, sigma[b], sigma_data);
    c_skip[b] = k.c_skip;
    c_out[b] = k.c_out;
    c_in[b] = k.c_in;
    times[b] = k.c_noise;
  }
  // The same operations, in the same order, as TorchScriptModel (edm, time input sigma), so the
  // trained MODEL and the saved file agree.
  at::Tensor t = at::empty({static_cast<int64_t>(B)}, at::kDouble);
  std::copy(times.begin(), times.end(), t.data_ptr<double>());
  at::Tensor out = net.forward({x * column(c_in, x), t.to(x.options())}).toTensor();
  if (out.sizes() != x.sizes())
    throw std::invalid_argument("the network returned shape " + c10::str(out.sizes()) + " for input " +
                                c10::str(x.sizes()));
  return x * column(c_skip, x) + out.to(x.scalar_type()) * column(c_out, x);
}

NoiseLevelDistribution::~NoiseLevelDistribution() = default;

LogNormalLevels::LogNormalLevels(double p_mean, double p_std, double sigma_min, double sigma_max)
    : p_mean_(p_mean), p_std_(p_std), sigma_min_(sigma_min), sigma_max_(sigma_max) {
  if (!(p_std > 0)) throw InputError("p_std", c10::str(p_std), "lognormal levels need p_std > 0");
  if (!(sigma_min > 0) || !(sigma_min < sigma_max))
    throw InputError("sigma_min", c10::str(sigma_min), "lognormal levels need 0 < sigma_min < sigma_max");
}

std::string LogNormalLevels::describe() const {
  return "lognormal(p_mean=" + c10::str(p_mean_) + ", p_std=" + c10::str(p_std_) + ")";
}

std::vector<double> LogNormalLevels::draw(int64_t batch, at::Generator& gen, std::vector<int64_t>& knots) {
  at::Tensor z = at::randn({batch}, gen, at::kDouble).contiguous();
  const double* zp = z.data_ptr<double>();
  std::vector<double> s(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b)
    s[static_cast<size_t>(b)] = std::clamp(std::exp(p_mean_ + p_std_ * zp[b]), sigma_min_, sigma_max_);
  knots.assign(static_cast<size_t>(batch), -1);
  return s;
}

DiscreteLevels::DiscreteLevels(std::vector<double> k, std::string name) : knots_(std::move(k)), name_(std::move(name)) {
  if (knots_.size() < 2) throw std::invalid_argument("a discrete schedule needs at least 2 levels");
  for (size_t i = 0; i + 1 < knots_.size(); ++i)
    if (!(knots_[i] > knots_[i + 1]) || !(knots_[i + 1] > 0))
      throw std::invalid_argument("discrete levels must be positive and strictly descending");
}

std::string DiscreteLevels::describe() const { return name_ + " (" + std::to_string(knots_.size()) + " levels)"; }

std::vector<double> DiscreteLevels::draw(int64_t batch, at::Generator& gen, std::vector<int64_t>& knots) {
  at::Tensor idx = at::randint(static_cast<int64_t>(knots_.size()), {batch}, gen, at::kLong);
  const int64_t* p = idx.data_ptr<int64_t>();
  knots.assign(p, p + batch);
  std::vector<double> s(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) s[static_cast<size_t>(b)] = knots_[static_cast<size_t>(p[b])];
  return s;
}

double DiscreteLevels::next_level(int64_t knot) const {
  return knot >= 0 && static_cast<size_t>(knot) + 1 < knots_.size() ? knots_[static_cast<size_t>(knot) + 1] : -1.0;
}

std::vector<double> discrete_schedule(const std::string& kind, int64_t levels, double smin, double smax) {
  if (levels < 2) throw InputError("levels", std::to_string(levels), "a discrete schedule needs at least 2 levels");
  if (!(smin > 0) || !(smin < smax))
    throw InputError("sigma_min", c10::str(smin), "need 0 < sigma_min < sigma_max = " + c10::str(smax));
  std::vector<double> k(static_cast<size_t>(levels));
  const double n = static_cast<double>(levels - 1);
  const double t_hi = std::atan(smax) * 2 / M_PI, t_lo = std::atan(smin) * 2 / M_PI;
  for (int64_t i = 0; i < levels; ++i) {
    const double u = static_cast<double>(i) / n;  // 0 at sigma_max
    if (kind == "linear")
      k[static_cast<size_t>(i)] = smax + (smin - smax) * u;
    else if (kind == "geometric")
      k[static_cast<size_t>(i)] = std::exp(std::log(smax) + (std::log(smin) - std::log(smax)) * u);
    else if (kind == "cosine")
      k[static_cast<size_t>(i)] = std::tan((t_hi + (t_lo - t_hi) * u) * M_PI / 2);
    else
      throw InputError("schedule", "\"" + kind + "\"",
                       "unknown discrete schedule '" + kind + "' (linear, geometric, cosine)");
  }
  k.front() = smax;
  k.back() = smin;
  return k;
}

struct DenoiserTrainer::Optim {
  std::unique_ptr<torch::optim::Adam> adam;
};

DenoiserTrainer::DenoiserTrainer(std::shared_ptr<torch::jit::Module> net, at::Tensor data,
                                 std::shared_ptr<NoiseLevelDistribution> levels, TrainOptions o)
    : net_(std::move(net)), levels_(std::move(levels)), o_(o), optim_(std::make_unique<Optim>()) {
  if (!data.defined() || data.dim() < 2 || data.size(0) == 0)
    throw InputError("data", data.defined() ? c10::str(data.sizes()) : "undefined",
                     "the dataset is empty (it needs at least one sample)");
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw InputError("lr", c10::str(o.lr), "lr must be a positive finite number");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1))
    throw InputError("ema_decay", c10::str(o.ema_decay), "ema_decay must be in [0, 1)");
  if (!(o.sigma_data > 0) || !std::isfinite(o.sigma_data))
    throw InputError("sigma_data", c10::str(o.sigma_data), "sigma_data must be > 0");
  if (o.steps < 0 || o.batch < 1 || o.log_every < 1) throw std::invalid_argument("steps >= 0, batch >= 1 needed");
  data_ = data.to(at::kFloat).contiguous();
  if (!data_.isfinite().all().item<bool>())
    throw InputError("data", c10::str(data_.sizes()), "the dataset holds NaN or infinite values");
  net_->train();
  for (auto p : net_->parameters()) {
    p.set_requires_grad(true);
    params_.push_back(p);
    ema_.push_back(p.detach().clone());
  }
  // The network must take the data's shape: one probe row, with a clear message when it does not.
  try {
    at::NoGradGuard no_grad;
    edm_denoise(*net_, data_.narrow(0, 0, 1), {1.0}, o_.sigma_data);
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw InputError("data", c10::str(data_.sizes()),
                     "the network does not fit the data's shape " + c10::str(data_.sizes().slice(1)) + ": " +
                         what.substr(0, what.find('\n')));
  }
  optim_->adam = std::make_unique<torch::optim::Adam>(params_, torch::optim::AdamOptions(o.lr));
}

DenoiserTrainer::~DenoiserTrainer() = default;

double DenoiserTrainer::train_step() {
  at::Generator gen = cpu_generator(stream_seed(o_.seed, static_cast<uint64_t>(step_)));
  const int64_t B = o_.batch;
  at::Tensor idx = at::randint(data_.size(0), {B}, gen, at::kLong);
  at::Tensor x0 = data_.index_select(0, idx);
  at::Tensor noise = at::randn(x0.sizes(), gen, at::kFloat);
  std::vector<int64_t> knots;
  std::vector<double> sigma = levels_->draw(B, gen, knots);
  at::Tensor x = x0 + noise * column(sigma, x0);
  at::Tensor d = edm_denoise(*net_, x, sigma, o_.sigma_data);
  std::vector<double> weight(sigma.size());
  for (size_t b = 0; b < sigma.size(); ++b) weight[b] = edm_loss_weight(sigma[b], o_.sigma_data);
  at::Tensor loss = (column(weight, x0) * (d - x0).square()).flatten(1).mean(1).mean();
  const double value = loss.item<double>();
  if (!std::isfinite(value))
    throw InputError("lr", c10::str(o_.lr),
                     "the training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at step " +
                         std::to_string(step_ + 1) + "; try a lower lr (now " + c10::str(o_.lr) + ")");
  if (levels_->wants_costs(step_)) {
    // Algorithm 2's cost: the score at the drawn level is the one the loss just used; one more
    // evaluation at the next knot, at the same x.
    std::vector<int64_t> rows, row_knots;
    std::vector<double> next;
    for (int64_t b = 0; b < B; ++b) {
      double s = levels_->next_level(knots[static_cast<size_t>(b)]);
      if (s > 0) {
        rows.push_back(b);
        row_knots.push_back(knots[static_cast<size_t>(b)]);
        next.push_back(s);
      }
    }
    if (!rows.empty()) {
      at::NoGradGuard no_grad;
      at::Tensor r = at::tensor(rows, at::kLong);
      at::Tensor xr = x.index_select(0, r);
      at::Tensor d_next = edm_denoise(*net_, xr, next, o_.sigma_data).to(at::kDouble);
      std::vector<double> here;
      for (int64_t b : rows) here.push_back(sigma[static_cast<size_t>(b)]);
      at::Tensor xd = xr.to(at::kDouble);
      at::Tensor s_here = (d.detach().index_select(0, r).to(at::kDouble) - xd) / column(here, xd).square();
      at::Tensor s_next = (d_next - xd) / column(next, xd).square();
      at::Tensor cost = (column(next, xd).square() * (s_next - s_here).square()).flatten(1).sum(1).contiguous();
      std::vector<double> costs(cost.data_ptr<double>(), cost.data_ptr<double>() + cost.numel());
      const int64_t before = levels_->updates();
      levels_->observe_costs(step_, row_knots, costs);
      if (levels_->updates() != before) log_.snapshots.push_back({step_ + 1, levels_->knots(), levels_->last_costs()});
    }
  }
  optim_->adam->zero_grad();
  loss.backward();
  optim_->adam->step();
  // EMA with a warm-up, so short runs are not dominated by the initial weights.
  const double decay = std::min(o_.ema_decay, (1.0 + static_cast<double>(step_)) / (10.0 + static_cast<double>(step_)));
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) ema_[i].mul_(decay).add_(params_[i].detach(), 1.0 - decay);
  }
  ++step_;
  return value;
}

bool DenoiserTrainer::run(const std::atomic<bool>* interrupt, const std::function<void(int64_t, double)>& progress) {
  // The thread count is process-wide: restored on every exit path.
  struct Threads {
    int before = at::get_num_threads();
    explicit Threads(int n) {
      if (n > 0) at::set_num_threads(n);
    }
    ~Threads() { at::set_num_threads(before); }
  } threads(o_.threads);
  auto t0 = std::chrono::steady_clock::now();
  bool finished = true;
  while (step_ < o_.steps) {
    if (interrupt && interrupt->load()) {
      finished = false;
      break;
    }
    double value = train_step();
    interval_loss_ += value;
    ++interval_count_;
    if (step_ % o_.log_every == 0 || step_ == o_.steps) {
      log_.loss_steps.push_back(step_);
      log_.loss.push_back(interval_loss_ / static_cast<double>(interval_count_));
      interval_loss_ = 0.0;
      interval_count_ = 0;
    }
    if (progress) progress(step_, value);
  }
  log_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return finished;
}

std::shared_ptr<torch::jit::Module> DenoiserTrainer::ema_network() const {
  auto copy = std::make_shared<torch::jit::Module>(net_->clone());
  size_t i = 0;
  at::NoGradGuard no_grad;
  for (auto p : copy->parameters()) {
    p.set_requires_grad(false);
    p.copy_(ema_[i++]);
  }
  copy->eval();
  return copy;
}

namespace {

at::Tensor doubles(const std::vector<double>& v) { return at::tensor(v, at::kDouble); }
std::vector<double> doubles(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

void DenoiserTrainer::save_checkpoint(const std::string& path) const {
  torch::serialize::OutputArchive a;
  a.write("format", at::tensor(int64_t{1}));
  a.write("step", at::tensor(step_));
  a.write("parameter_count", at::tensor(static_cast<int64_t>(params_.size())));
  for (size_t i = 0; i < params_.size(); ++i) {
    a.write("param_" + std::to_string(i), params_[i].detach());
    a.write("ema_" + std::to_string(i), ema_[i]);
  }
  torch::serialize::OutputArchive adam;
  optim_->adam->save(adam);
  a.write("adam", adam);
  a.write("levels", doubles(levels_->state()));
  a.write("interval", doubles({interval_loss_, static_cast<double>(interval_count_), log_.seconds}));
  std::vector<double> steps(log_.loss_steps.begin(), log_.loss_steps.end());
  a.write("loss_steps", doubles(steps));
  a.write("loss", doubles(log_.loss));
  std::vector<double> snaps;  // per snapshot: step, n_knots, knots..., n_costs, costs...
  for (const auto& s : log_.snapshots) {
    snaps.push_back(static_cast<double>(s.step));
    snaps.push_back(static_cast<double>(s.knots.size()));
    snaps.insert(snaps.end(), s.knots.begin(), s.knots.end());
    snaps.push_back(static_cast<double>(s.costs.size()));
    snaps.insert(snaps.end(), s.costs.begin(), s.costs.end());
  }
  a.write("snapshots", doubles(snaps));
  const std::string tmp = path + ".tmp";
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  a.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

void DenoiserTrainer::load_checkpoint(const std::string& path) {
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw InputError("resume_from", "\"" + path + "\"",
                     "'" + path + "' is not a readable checkpoint: " + what.substr(0, what.find('\n')));
  }
  auto read = [&](const std::string& key) {
    at::Tensor t;
    if (!a.try_read(key, t))
      throw InputError("resume_from", "\"" + path + "\"",
                       "'" + path + "' is not a TrainDenoiser checkpoint (no " + key + ")");
    return t;
  };
  if (read("parameter_count").item<int64_t>() != static_cast<int64_t>(params_.size()))
    throw InputError("resume_from", "\"" + path + "\"",
                     "'" + path + "' was written for another network (parameter count differs)");
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor p = read("param_" + std::to_string(i)), e = read("ema_" + std::to_string(i));
    if (p.sizes() != params_[i].sizes())
      throw InputError("resume_from", "\"" + path + "\"",
                       "'" + path + "' was written for another network (parameter " + std::to_string(i) +
                           " has shape " + c10::str(p.sizes()) + ", not " + c10::str(params_[i].sizes()) + ")");
    params_[i].copy_(p);
    ema_[i].copy_(e);
  }
  torch::serialize::InputArchive adam;
  if (!a.try_read("adam", adam))
    throw InputError("resume_from", "\"" + path + "\"", "'" + path + "' has no optimiser state");
  optim_->adam->load(adam);
  step_ = read("step").item<int64_t>();
  levels_->restore(doubles(read("levels")));
  std::vector<double> iv = doubles(read("interval"));
  interval_loss_ = iv.at(0);
  interval_count_ = static_cast<int64_t>(iv.at(1));
  log_.seconds = iv.at(2);
  std::vector<double> steps = doubles(read("loss_steps"));
  log_.loss_steps.assign(steps.begin(), steps.end());
  log_.loss = doubles(read("loss"));
  std::vector<double> snaps = doubles(read("snapshots"));
  log_.snapshots.clear();
  for (size_t i = 0; i < snaps.size();) {
    TrainLog::Snapshot s;
    s.step = static_cast<int64_t>(snaps[i++]);
    size_t n = static_cast<size_t>(snaps[i++]);
    s.knots.assign(snaps.begin() + static_cast<long>(i), snaps.begin() + static_cast<long>(i + n));
    i += n;
    n = static_cast<size_t>(snaps[i++]);
    s.costs.assign(snaps.begin() + static_cast<long>(i), snaps.begin() + static_cast<long>(i + n));
    i += n;
    log_.snapshots.push_back(std::move(s));
  }
}

}  // namespace sf::diffusion
