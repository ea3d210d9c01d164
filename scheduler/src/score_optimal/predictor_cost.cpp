#include "sigmaflow/scheduler/score_optimal/predictor_cost.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/status.h"

namespace sf::so {

namespace {

using torch::autograd::grad;

// The step map F(x) (with graph, for autograd) on flattened x [K, d].
struct StepMap {
  const Denoiser& denoise;
  std::vector<int64_t> shape;  // full batch shape [K, ...]
  double s, sn;
  bool heun;
  int64_t* nfe;

  at::Tensor D(const at::Tensor& xf, double sigma) const {
    if (nfe) *nfe += xf.size(0);
    return denoise(xf.reshape(shape), sigma).reshape({xf.size(0), -1});
  }
  at::Tensor operator()(const at::Tensor& xf, at::Tensor* D_at_s) const {
    at::Tensor d0 = D(xf, s);
    if (D_at_s) *D_at_s = d0;
    at::Tensor slope = (xf - d0) / s;
    at::Tensor y = xf + slope * (sn - s);
    if (!heun) return y;
    at::Tensor slope2 = (y - D(y, sn)) / sn;
    return xf + (slope + slope2) * ((sn - s) / 2);
  }
};

at::Tensor vjp(const at::Tensor& out, const at::Tensor& in, const at::Tensor& v, bool create_graph) {
  return grad({out}, {in}, {v}, /*retain_graph=*/true, create_graph)[0];
}

// Gradient of a scalar that may not depend on `in` at all (e.g. log|det J| of a linear map):
// zero then, instead of autograd's "does not require grad" error.
at::Tensor grad_or_zero(const at::Tensor& scalar, const at::Tensor& in) {
  if (!scalar.requires_grad()) return at::zeros_like(in);
  at::Tensor g = grad({scalar}, {in}, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true)[0];
  return g.defined() ? g : at::zeros_like(in);
}

// Solves J^T u = r for every row by conjugate gradients, with J^T w from a vector-Jacobian
// product and J w from double backward. `converged` flags the rows that reached the tolerance.
struct Solve {
  at::Tensor u;
  at::Tensor converged;  // bool [K]
};

Solve solve_transpose(const at::Tensor& F, const at::Tensor& x, const at::Tensor& r, bool symmetric, int iters,
                      double tol) {
  // J^T w  = vjp(w); J w = jvp(w) via the double-backward trick: d/dv [ (J^T v) . w ] = J w.
  auto JT = [&](const at::Tensor& w) { return vjp(F, x, w, false); };
  at::Tensor dummy = at::zeros_like(F).requires_grad_(true);
  at::Tensor JTdummy = vjp(F, x, dummy, true);
  auto J = [&](const at::Tensor& w) { return grad({JTdummy}, {dummy}, {w}, true, false)[0]; };
  const int64_t K = r.size(0);
  // Symmetric J (the Euler map of a true denoiser): CG on J^T u = r directly. Otherwise CGNE:
  // u = J z with (J^T J) z = r.
  std::function<at::Tensor(const at::Tensor&)> A;
  if (symmetric)
    A = JT;
  else
    A = [&](const at::Tensor& z) { return JT(J(z)); };
  at::Tensor z = at::zeros_like(r), res = r.clone(), p = res.clone();
  at::Tensor rr = (res * res).sum(1);
  at::Tensor rnorm0 = rr.sqrt().clamp_min(1e-300);
  at::Tensor conv = at::zeros({K}, at::kBool).to(r.device());
  for (int it = 0; it < iters; ++it) {
    at::Tensor Ap = A(p);
    at::Tensor pAp = (p * Ap).sum(1);
    at::Tensor alpha = rr / pAp.where(pAp.abs() > 1e-300, at::ones_like(pAp));
    alpha = alpha.where(pAp > 0, at::zeros_like(alpha));  // non-positive curvature: stop that row
    z = z + alpha.unsqueeze(1) * p;
    res = res - alpha.unsqueeze(1) * Ap;
    at::Tensor rr_new = (res * res).sum(1);
    conv = rr_new.sqrt() <= tol * rnorm0;
    if (conv.all().item<bool>()) break;
    at::Tensor beta = rr_new / rr.clamp_min(1e-300);
    p = res + beta.unsqueeze(1) * p;
    rr = rr_new;
  }
  return {symmetric ? z : J(z), conv};
}

}  // namespace

PredictorStepCost predictor_step_cost(const Denoiser& denoise, const at::Tensor& x_in, double s, double sn,
                                      const PredictorOptions& o, int64_t* nfe) {
  if (o.step_map != "euler" && o.step_map != "heun")
    throw std::invalid_argument("the predictor step map must be euler or heun, got '" + o.step_map + "'");
  torch::autograd::AutoGradMode grad_on(true);
  const int64_t K = x_in.size(0);
  const int64_t d = x_in.numel() / K;
  std::vector<int64_t> shape(x_in.sizes().begin(), x_in.sizes().end());
  // Autograd in float64 for stable Jacobians and solves.
  at::Tensor x = x_in.reshape({K, d}).to(at::kDouble).detach().requires_grad_(true);
  Denoiser den64 = [&](const at::Tensor& xs, const NoiseLevels& sig) {
    return denoise(xs.to(x_in.scalar_type()), sig).to(at::kDouble);
  };
  StepMap F{den64, shape, s, sn, o.step_map == "heun", nfe};
  at::Tensor D0;
  at::Tensor y = F(x, &D0);
  at::Tensor score_x = ((D0 - x) / (s * s)).detach();

  PredictorStepCost out;
  out.samples = K;
  at::Tensor keep, push;
  if (d <= o.exact_jacobian_max_dim) {
    // Exact Jacobian rows by autograd, kept in the graph for the log-det gradient.
    std::vector<at::Tensor> rows;
    for (int64_t j = 0; j < d; ++j) {
      at::Tensor e = at::zeros_like(y);
      e.select(1, j).fill_(1.0);
      rows.push_back(vjp(y, x, e, true));  // row j of J for every sample: dF_j/dx
    }
    at::Tensor J = at::stack(rows, 1);  // [K, d(out), d(in)]
    auto [sign, logabsdet] = at::linalg_slogdet(J);
    keep = sign > 0;
    at::Tensor glogdet = grad_or_zero(logabsdet.sum(), x);
    at::Tensor rhs = (score_x - glogdet).detach();
    at::Tensor Jd = J.detach();
    // Folded rows would make the solve singular: replace their J by the identity first.
    at::Tensor eye = at::eye(d, Jd.options()).expand({K, d, d});
    at::Tensor Jsafe = at::where(keep.view({K, 1, 1}), Jd, eye);
    push = at::linalg_solve(Jsafe.transpose(1, 2), rhs.unsqueeze(2)).squeeze(2);
  } else {
    // Hutchinson: grad_x log|det J| = grad_x E_v[ (J^{-T} v)^T J v ] with the left factor held fixed.
    at::Generator gen = diffusion::cpu_generator(static_cast<uint64_t>(std::llround(s * 1e6)) ^ 0xabcdef);
    at::Tensor glogdet = at::zeros_like(x);
    bool symmetric = o.step_map == "euler";  // J = a I + b J_D, J_D symmetric for a true denoiser
    at::Tensor conv_all = at::ones({K}, at::kBool).to(x.device());
    for (int p = 0; p < o.hutchinson_probes; ++p) {
      at::Tensor v =
          at::randint(0, 2, {K, d}, gen, at::TensorOptions().dtype(at::kDouble)).mul_(2).sub_(1).to(x.device());
      Solve sv = solve_transpose(y, x, v, symmetric, o.cg_iterations, o.cg_tolerance);
      conv_all = conv_all & sv.converged;
      // d/dx [ u^T J(x) v ] with u fixed: u^T J v = (J^T u) . v
      at::Tensor JTu = vjp(y, x, sv.u.detach(), true);
      glogdet = glogdet + grad_or_zero((JTu * v).sum(), x);
    }
    glogdet = glogdet / o.hutchinson_probes;
    at::Tensor rhs = (score_x - glogdet).detach();
    Solve sp = solve_transpose(y, x, rhs, symmetric, o.cg_iterations, o.cg_tolerance);
    keep = conv_all & sp.converged;
    push = sp.u.detach();
  }
  at::Tensor yd = y.detach();
  at::Tensor true_score;
  {
    torch::autograd::AutoGradMode no_grad(false);
    true_score = (den64(yd.reshape(shape), sn).reshape({K, d}) - yd) / (sn * sn);
    if (nfe) *nfe += K;
  }
  at::Tensor per = (true_score - push).pow(2).sum(1);
  keep = keep & at::isfinite(per);
  out.folded = K - keep.sum().item<int64_t>();
  if (out.folded == K) throw InputError("model", "", "every sample's step map folded at sigma = " + std::to_string(s));
  out.cost = per.masked_select(keep).mean().item<double>() * sn * sn;
  return out;
}

PredictorResult predictor_optimal_schedule(const Model& model, int64_t steps, const PredictorOptions& o,
                                           const at::Tensor& data,
                                           const std::function<void(int64_t, int64_t)>& progress) {
  auto t0 = std::chrono::steady_clock::now();
  const Denoiser denoise = model_denoiser(model);
  const std::vector<int64_t>& sample_shape = model.sample_shape();
  const double smin = model.sigma_min(), smax = model.sigma_max();
  const c10::Device device = model.device();
  const c10::ScalarType dtype = model.dtype();
  PredictorResult r;
  int64_t d = 1;
  for (auto v : sample_shape) d *= v;
  at::Tensor x0 = data.defined() ? data.reshape({data.size(0), d}).to(device, dtype)
                                 : reverse_process_samples(model, o.estimate.particles, o.estimate.reverse_steps,
                                                           o.estimate.seed ^ 0x5eed5eedULL, &r.nfe)
                                       .reshape({o.estimate.particles, d});
  at::Generator gen = diffusion::cpu_generator(o.estimate.seed);
  std::vector<int64_t> shape{o.estimate.particles};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  // Start from the geometric schedule (the point-mass optimum) and equalise.
  std::vector<double> sched = log_grid(smin, smax, steps);
  auto cost_all = [&](const std::vector<double>& sc, int64_t* folded) {
    std::vector<double> costs;
    for (size_t k = 0; k + 1 < sc.size(); ++k) {
      at::Tensor idx =
          at::randint(x0.size(0), {o.estimate.particles}, gen, at::TensorOptions().dtype(at::kLong)).to(device);
      at::Tensor noise =
          at::randn({o.estimate.particles, d}, gen, at::TensorOptions().dtype(at::kFloat)).to(device, dtype);
      at::Tensor x = (x0.index_select(0, idx) + noise * sc[k]).reshape(shape);
      auto c = predictor_step_cost(denoise, x, sc[k], sc[k + 1], o, &r.nfe);
      costs.push_back(c.cost);
      if (folded) *folded += c.folded;
    }
    return costs;
  };
  for (int it = 0; it < o.iterations; ++it) {
    auto costs = cost_all(sched, nullptr);
    CostCurve curve{sched, costs, d};
    auto target = fit_schedule(curve, steps, o.fit);
    sched = blend(sched, target, o.gamma);
    if (progress) progress(it + 1, o.iterations + 1);
  }
  r.schedule = sched;
  r.step_costs = cost_all(sched, &r.folded_samples);
  if (progress) progress(o.iterations + 1, o.iterations + 1);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace sf::so
