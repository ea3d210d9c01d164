#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/status.h"

namespace sf::so {

namespace {

using diffusion::batch_shape;
using diffusion::cpu_generator;
using diffusion::normal_like;
using diffusion::stream_seed;

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

void check_finite(const at::Tensor& d, const NoiseLevels& sigma) {
  at::Tensor bad = at::isfinite(d.reshape({d.size(0), -1})).all(1).logical_not();
  if (bad.any().item<bool>()) {
    int64_t row = bad.nonzero()[0][0].item<int64_t>();
    char buf[160];
    std::snprintf(buf, sizeof buf, "the model's denoiser returned NaN or Inf at sigma = %.6g", sigma[row]);
    throw InputError("model", "", buf);
  }
}

// The levels of `rows` rows per level, level by level.
std::vector<double> repeat_levels(const std::vector<double>& grid, int64_t first, int64_t count, int64_t rows) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count * rows));
  for (int64_t l = 0; l < count; ++l)
    out.insert(out.end(), static_cast<size_t>(rows), grid[static_cast<size_t>(first + l)]);
  return out;
}

}  // namespace

std::vector<double> log_grid(double sigma_min, double sigma_max, int64_t intervals) {
  if (!(sigma_min > 0) || !(sigma_min < sigma_max))
    throw std::invalid_argument("need 0 < sigma_min < sigma_max, got sigma_min = " + std::to_string(sigma_min) +
                                ", sigma_max = " + std::to_string(sigma_max));
  if (intervals < 1) throw std::invalid_argument("grid_size must be >= 1");
  std::vector<double> g(static_cast<size_t>(intervals + 1));
  double a = std::log(sigma_max), b = std::log(sigma_min);
  for (int64_t i = 0; i <= intervals; ++i)
    g[static_cast<size_t>(i)] = std::exp(a + (b - a) * static_cast<double>(i) / static_cast<double>(intervals));
  g.front() = sigma_max;
  g.back() = sigma_min;
  return g;
}

namespace {

// Heun on a log-uniform grid from sigma_max, then the final denoise; x starts at sigma_max.
at::Tensor heun_reverse(const Denoiser& denoise, at::Tensor x, double sigma_min, double sigma_max, int64_t steps,
                        int64_t* nfe) {
  auto grid = log_grid(sigma_min, sigma_max, steps);
  auto call = [&](const at::Tensor& xs, double s) {
    if (nfe) *nfe += xs.size(0);
    at::Tensor d = denoise(xs, s);
    check_finite(d, s);
    return d;
  };
  for (size_t i = 0; i + 1 < grid.size(); ++i) {
    double s = grid[i], sn = grid[i + 1];
    at::Tensor d1 = (x - call(x, s)) / s;
    at::Tensor x2 = x + d1 * (sn - s);
    at::Tensor d2 = (x2 - call(x2, sn)) / sn;
    x = x + (d1 + d2) * ((sn - s) / 2);
  }
  return call(x, grid.back());
}

}  // namespace

Denoiser model_denoiser(const Model& model) {
  return [&model](const at::Tensor& x, const NoiseLevels& s) { return model.denoise(x, s); };
}

at::Tensor reverse_process_samples(const Model& model, int64_t n, int64_t steps, uint64_t seed, int64_t* nfe,
                                   const Collectives* group) {
  const Denoiser denoise = model_denoiser(model);
  const std::vector<int64_t>& sample_shape = model.sample_shape();
  const double sigma_min = model.sigma_min(), sigma_max = model.sigma_max();
  const c10::Device device = model.device();
  const c10::ScalarType dtype = model.dtype();
  at::Generator gen = cpu_generator(seed);
  at::Tensor x = normal_like(gen, batch_shape(n, sample_shape), device, dtype) * sigma_max;
  if (group && group->world_size() > 1 && n >= group->world_size()) {
    // This rank's rows; the particles are independent, so the gathered rows are the whole's.
    auto [begin, end] = group->shard(n);
    int64_t local_nfe = 0;
    at::Tensor mine = heun_reverse(denoise, x.narrow(0, begin, end - begin), sigma_min, sigma_max, steps, &local_nfe);
    if (nfe) *nfe += group->all_reduce_sum(at::full({1}, local_nfe, at::kLong)).item<int64_t>();
    return group->all_gather_rows(mine.to(at::kCPU)).to(device);
  }
  return heun_reverse(denoise, x, sigma_min, sigma_max, steps, nfe);
}

namespace {

// The corrector cost of levels l0 .. l0 + L - 1 (L = s_left's size) from K rows each: x0 rows
// and noise [L*K, d]; fills est.curve.cost and est.stderr_ there. Returns the evaluations spent.
int64_t measure_chunk(const Denoiser& denoise, const at::Tensor& x0_rows, const at::Tensor& noise,
                      const at::Tensor& s_left, const at::Tensor& s_next, CostEstimate& est, int64_t l0, int64_t K,
                      const std::vector<int64_t>& sample_shape) {
  const int64_t L = s_left.size(0), d = est.curve.dim;
  const c10::Device device = x0_rows.device();
  const c10::ScalarType dtype = x0_rows.scalar_type();
  at::Tensor rows_s = s_left.repeat_interleave(K), rows_sn = s_next.repeat_interleave(K);  // [L*K] CPU f64
  at::Tensor x = x0_rows + noise * rows_s.to(device, dtype).unsqueeze(1);
  // One batched call for both levels.
  at::Tensor xx = at::cat({x, x}, 0);
  std::vector<double> levels = repeat_levels(est.curve.grid, l0, L, K);
  std::vector<double> next = repeat_levels(est.curve.grid, l0 + 1, L, K);
  levels.insert(levels.end(), next.begin(), next.end());
  NoiseLevels sig(std::move(levels));
  at::Tensor dd = denoise(xx.reshape(batch_shape(2 * L * K, sample_shape)), sig);
  dd = dd.reshape({2 * L * K, d});
  check_finite(dd, sig);
  // Score difference in float64: s' - s = (D' - D)/s'^2 + (D - x)(1/s'^2 - 1/s^2).
  at::Tensor x64 = x.to(at::kDouble), D = dd.slice(0, 0, L * K).to(at::kDouble),
             Dn = dd.slice(0, L * K).to(at::kDouble);
  at::Tensor s2 = rows_s.to(device).pow(2).unsqueeze(1), sn2 = rows_sn.to(device).pow(2).unsqueeze(1);
  at::Tensor diff = (Dn - D) / sn2 + (D - x64) * (1.0 / sn2 - 1.0 / s2);
  at::Tensor per = diff.pow(2).sum(1) * sn2.squeeze(1);  // [L*K]
  at::Tensor per_level = per.reshape({L, K});
  at::Tensor mean = per_level.mean(1).cpu(), sem = (per_level.std(1) / std::sqrt(static_cast<double>(K))).cpu();
  for (int64_t l = 0; l < L; ++l) {
    est.curve.cost[static_cast<size_t>(l0 + l)] = mean[l].item<double>();
    est.stderr_[static_cast<size_t>(l0 + l)] = sem[l].item<double>();
  }
  return 2 * L * K;
}

}  // namespace

CostEstimate estimate_corrector_cost(const Model& model, const EstimateOptions& o, const at::Tensor& data,
                                     const std::function<void(int64_t, int64_t)>& progress) {
  const Denoiser denoise = model_denoiser(model);
  const std::vector<int64_t>& sample_shape = model.sample_shape();
  const c10::Device device = model.device();
  auto t0 = std::chrono::steady_clock::now();
  if (o.particles < 2) throw std::invalid_argument("particles must be >= 2");
  CostEstimate est;
  est.curve.grid = log_grid(model.sigma_min(), model.sigma_max(), o.grid_size);
  est.curve.dim = numel_of(sample_shape);
  const int64_t T = o.grid_size, K = o.particles, d = est.curve.dim;

  // x0 samples, flattened [M, d].
  at::Tensor x0;
  if (data.defined()) {
    if (data.dim() < 1 || data.numel() / std::max<int64_t>(1, data.size(0)) != d)
      throw std::invalid_argument("data samples of shape " + c10::str(data.sizes()) +
                                  " do not match the model's sample size " + std::to_string(d));
    x0 = data.reshape({data.size(0), d}).to(device, model.dtype());
    est.from_data = true;
  } else {
    est.samples = reverse_process_samples(model, K, o.reverse_steps, o.seed ^ 0x5eed5eedULL, &est.nfe, o.group);
    x0 = est.samples.reshape({K, d});
  }
  const int64_t M = x0.size(0);

  // Common random numbers: one set of indices and noise for every level. Otherwise level l draws
  // from its own stream (stream_seed(seed, l)), so a rank draws only its own levels' numbers and
  // the estimate does not depend on the chunking or the number of ranks.
  at::Tensor crn_idx, crn_noise;
  if (o.common_random_numbers) {
    at::Generator gen = cpu_generator(o.seed);
    crn_idx = at::randint(M, {K}, gen, at::TensorOptions().dtype(at::kLong)).to(device);
    crn_noise = normal_like(gen, {K, d}, device, model.dtype());
  }

  est.curve.cost.assign(static_cast<size_t>(T), 0.0);
  est.stderr_.assign(static_cast<size_t>(T), 0.0);
  const int64_t levels_per_chunk = std::max<int64_t>(1, o.memory_budget / std::max<int64_t>(1, 2 * K * d));
  const int world = o.group ? o.group->world_size() : 1, rank = o.group ? o.group->rank() : 0;
  int64_t chunk = 0, level_nfe = 0;
  for (int64_t l0 = 0; l0 < T; l0 += levels_per_chunk) {
    const int64_t l1 = std::min(T, l0 + levels_per_chunk), L = l1 - l0;
    if (chunk++ % world != rank) continue;  // another rank's levels
    // Per-row sigma (level left) and sigma' (level entered), float64 on the host first.
    at::Tensor s_left = at::empty({L}, at::kDouble), s_next = at::empty({L}, at::kDouble);
    for (int64_t l = 0; l < L; ++l) {
      s_left[l] = est.curve.grid[static_cast<size_t>(l0 + l)];
      s_next[l] = est.curve.grid[static_cast<size_t>(l0 + l + 1)];
    }
    at::Tensor idx, noise;
    if (o.common_random_numbers) {
      idx = crn_idx.repeat({L});
      noise = crn_noise.repeat({L, 1});
    } else {
      std::vector<at::Tensor> idxs, noises;
      for (int64_t l = l0; l < l1; ++l) {
        at::Generator gen = cpu_generator(stream_seed(o.seed, static_cast<uint64_t>(l)));
        idxs.push_back(at::randint(M, {K}, gen, at::TensorOptions().dtype(at::kLong)));
        noises.push_back(normal_like(gen, {K, d}, device, model.dtype()));
      }
      idx = at::cat(idxs, 0).to(device);
      noise = at::cat(noises, 0);
    }
    level_nfe += measure_chunk(denoise, x0.index_select(0, idx), noise, s_left, s_next, est, l0, K, sample_shape);
    if (progress) progress(l1, T);
  }
  if (world > 1) {
    // Each level was filled by one rank, zeros elsewhere: the sums are the values.
    at::Tensor cost = o.group->all_reduce_sum(at::tensor(est.curve.cost, at::kDouble));
    at::Tensor sem = o.group->all_reduce_sum(at::tensor(est.stderr_, at::kDouble));
    for (int64_t l = 0; l < T; ++l) {
      est.curve.cost[static_cast<size_t>(l)] = cost[l].item<double>();
      est.stderr_[static_cast<size_t>(l)] = sem[l].item<double>();
    }
    level_nfe = o.group->all_reduce_sum(at::full({1}, level_nfe, at::kLong)).item<int64_t>();
  }
  est.nfe += level_nfe;
  est.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return est;
}

std::vector<double> step_costs(const Denoiser& denoise, const std::vector<double>& schedule, const at::Tensor& x0,
                               int64_t particles, uint64_t seed, int64_t* nfe, const Collectives* group) {
  std::vector<double> out;
  const int64_t M = x0.size(0), d = x0.numel() / std::max<int64_t>(1, M);
  const int world = group ? group->world_size() : 1, rank = group ? group->rank() : 0;
  at::Tensor flat = x0.reshape({M, d});
  std::vector<int64_t> shape(x0.sizes().begin() + 1, x0.sizes().end());
  int64_t local_nfe = 0;
  for (size_t k = 0; k + 1 < schedule.size(); ++k) {
    double s = schedule[k], sn = schedule[k + 1];
    if (!(sn > 0)) break;
    out.push_back(0.0);
    if (static_cast<int>(k % static_cast<size_t>(world)) != rank) continue;  // another rank's step
    at::Generator gen = cpu_generator(stream_seed(seed, k));
    at::Tensor idx = at::randint(M, {particles}, gen, at::TensorOptions().dtype(at::kLong)).to(x0.device());
    at::Tensor x = flat.index_select(0, idx) + normal_like(gen, {particles, d}, x0.device(), x0.scalar_type()) * s;
    at::Tensor xs = x.reshape(batch_shape(particles, shape));
    at::Tensor D = denoise(xs, s).reshape({particles, d}).to(at::kDouble);
    at::Tensor Dn = denoise(xs, sn).reshape({particles, d}).to(at::kDouble);
    local_nfe += 2 * particles;
    at::Tensor diff = (Dn - D) / (sn * sn) + (D - x.to(at::kDouble)) * (1.0 / (sn * sn) - 1.0 / (s * s));
    out.back() = diff.pow(2).sum(1).mean().item<double>() * sn * sn;
  }
  if (world > 1 && !out.empty()) {
    at::Tensor sum = group->all_reduce_sum(at::tensor(out, at::kDouble));
    for (size_t k = 0; k < out.size(); ++k) out[k] = sum[static_cast<int64_t>(k)].item<double>();
    local_nfe = group->all_reduce_sum(at::full({1}, local_nfe, at::kLong)).item<int64_t>();
  }
  if (nfe) *nfe += local_nfe;
  return out;
}

}  // namespace sf::so
