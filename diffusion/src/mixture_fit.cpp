#include "sigmaflow/diffusion/mixture_fit.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/noise.h"

namespace sf::diffusion {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;

// log w_k + log N(x_n; mu_k, diag(v_k)) for all n, k: [N, K].
at::Tensor log_joint(const at::Tensor& x, const at::Tensor& logw, const at::Tensor& mu, const at::Tensor& var) {
  at::Tensor prec = var.reciprocal();
  at::Tensor quad = at::matmul(x * x, prec.t()) - 2 * at::matmul(x, (mu * prec).t()) + (mu * mu * prec).sum(1);
  return logw + 0.5 * (prec.log().sum(1) - quad - x.size(1) * kLog2Pi);
}
}  // namespace

FitResult fit_mixture(const at::Tensor& data, const FitOptions& o) {
  if (data.dim() < 2) throw std::invalid_argument("the dataset needs a batch dimension and a sample shape");
  const int64_t N = data.size(0), K = o.components;
  if (K < 1) throw std::invalid_argument("components must be >= 1");
  if (N < K)
    throw std::invalid_argument("the dataset has " + std::to_string(N) + " samples, fewer than the " +
                                std::to_string(K) + " components");
  at::Tensor x = data.reshape({N, -1}).to(at::kCPU, at::kDouble).contiguous();
  const int64_t d = x.size(1);
  at::Generator gen = cpu_generator(o.seed);

  // k-means++: the first centre uniformly, each next one with probability proportional to the
  // squared distance to the nearest chosen centre.
  std::vector<int64_t> chosen{at::randint(N, {1}, gen, at::TensorOptions().dtype(at::kLong)).item<int64_t>()};
  at::Tensor d2 = (x - x[chosen[0]]).pow(2).sum(1);
  for (int64_t k = 1; k < K; ++k) {
    throw_if_interrupted();
    at::Tensor p = d2 / d2.sum().clamp_min(1e-300);
    int64_t next = d2.sum().item<double>() > 0
                       ? at::multinomial(p, 1, false, gen).item<int64_t>()
                       : at::randint(N, {1}, gen, at::TensorOptions().dtype(at::kLong)).item<int64_t>();
    chosen.push_back(next);
    d2 = at::minimum(d2, (x - x[next]).pow(2).sum(1));
  }
  at::Tensor mu = x.index_select(0, at::tensor(chosen, at::kLong)).clone();
  at::Tensor global_var = x.var(0, false).clamp_min(o.variance_floor);
  at::Tensor var = global_var.unsqueeze(0).repeat({K, 1});
  if (!o.diagonal) var = var.mean(1, true).expand({K, d}).contiguous();
  at::Tensor logw = at::full({K}, -std::log(static_cast<double>(K)), at::kDouble);

  FitResult r;
  double prev = -1e300;
  for (int64_t it = 0; it < o.iterations; ++it) {
    throw_if_interrupted();
    at::Tensor lj = log_joint(x, logw, mu, var);
    at::Tensor lse = at::logsumexp(lj, 1, true);
    double ll = lse.mean().item<double>();
    at::Tensor resp = (lj - lse).exp();  // [N, K]
    at::Tensor nk = resp.sum(0).clamp_min(1e-12);
    logw = (nk / N).log();
    mu = at::matmul(resp.t(), x) / nk.unsqueeze(1);
    at::Tensor ex2 = at::matmul(resp.t(), x * x) / nk.unsqueeze(1);
    var = (ex2 - mu * mu).clamp_min(o.variance_floor);
    if (!o.diagonal) var = var.mean(1, true).expand({K, d}).contiguous();
    r.iterations = it + 1;
    r.mean_log_likelihood = ll;
    if (std::fabs(ll - prev) < o.tolerance) break;
    prev = ll;
  }
  r.params.weights = logw.exp() / logw.exp().sum();
  r.params.means = mu;
  r.params.variances = var;
  r.params.sample_shape = std::vector<int64_t>(data.sizes().begin() + 1, data.sizes().end());
  r.params.name = "fit";
  return r;
}

}  // namespace sf::diffusion
