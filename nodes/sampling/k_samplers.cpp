#include "k_samplers.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <deque>
#include <stdexcept>

namespace sf::nodes {

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = {
      "euler",         "euler_ancestral", "heun",         "dpm_2", "dpm_2_ancestral", "lms",   "dpmpp_2s_ancestral",
      "dpmpp_2m",      "dpmpp_2m_sde",    "dpmpp_3m_sde", "ipndm", "ipndm_v",         "ddpm",  "lcm"};
  return names;
}

bool is_stochastic(const std::string& n) {
  return n == "euler_ancestral" || n == "dpm_2_ancestral" || n == "dpmpp_2s_ancestral" || n == "dpmpp_2m_sde" ||
         n == "dpmpp_3m_sde" || n == "ddpm" || n == "lcm";
}

bool is_multistep(const std::string& n) {
  return n == "lms" || n == "dpmpp_2m" || n == "dpmpp_2m_sde" || n == "dpmpp_3m_sde" || n == "ipndm" || n == "ipndm_v";
}

double linear_multistep_coeff(int order, const std::vector<double>& t, int i, int j) {
  if (order - 1 > i) throw std::invalid_argument("LMS order " + std::to_string(order) + " too high for step " + std::to_string(i));
  auto basis = [&](double tau) {
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == j) continue;
      prod *= (tau - t[static_cast<size_t>(i - k)]) / (t[static_cast<size_t>(i - j)] - t[static_cast<size_t>(i - k)]);
    }
    return prod;
  };
  // 4-point Gauss-Legendre is exact for polynomials up to degree 7 (the basis has degree <= 3).
  static const double xs[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
  static const double ws[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
  double a = t[static_cast<size_t>(i)], b = t[static_cast<size_t>(i + 1)];
  double half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
  for (int q = 0; q < 4; ++q) sum += ws[q] * basis(mid + half * xs[q]);
  return sum * half;
}

namespace {

std::pair<double, double> ancestral_step(double from, double to, double eta) {
  if (eta == 0) return {to, 0.0};
  double up = std::min(to, eta * std::sqrt(to * to * (from * from - to * to) / (from * from)));
  double down = std::sqrt(to * to - up * up);
  return {down, up};
}

// Everything one run needs: the model call with NFE counting, and the seeded CPU noise source.
// Finiteness is not checked per call (that would cost kernels and syncs every step): the caller
// checks the final state once, and on failure re-runs the same (deterministic) trajectory with
// `locate` set, which checks every call and names the first sigma that produced NaN/Inf.
class Run {
 public:
  Run(const Model& model, const at::Tensor& x, SampleContext& ctx, uint64_t noise_seed, bool locate)
      : model_(model), ctx_(ctx), gen_(at::make_generator<at::CPUGeneratorImpl>(noise_seed)), locate_(locate) {
    batch_ = x.size(0);
    options_ = x.options();
  }

  at::Tensor denoise(const at::Tensor& x, double sigma) {
    ++ctx_.nfe;
    at::Tensor s = at::full({batch_}, sigma, options_);
    at::Tensor d = model_.denoise(x, s);
    if (locate_ && !at::isfinite(d).all().item<bool>()) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "the model returned NaN or Inf at sigma = %.6g (model evaluation %lld)", sigma,
                    static_cast<long long>(ctx_.nfe));
      throw std::runtime_error(buf);
    }
    ctx_.denoised = d;
    return d;
  }

  at::Tensor noise(const at::Tensor& like) {
    at::Tensor n = at::randn(like.sizes(), gen_, at::TensorOptions().dtype(at::kFloat));
    return n.to(like.device(), like.scalar_type());
  }

  void progress(int64_t done, int64_t total) {
    if (ctx_.progress) ctx_.progress(done, total);
  }

 private:
  const Model& model_;
  SampleContext& ctx_;
  at::Generator gen_;
  bool locate_;
  int64_t batch_ = 0;
  at::TensorOptions options_;
};

at::Tensor run_steps(const SamplerOptions& o, const Model& model, at::Tensor x, const std::vector<double>& s,
                     SampleContext& ctx, bool locate);

at::Tensor to_d(const at::Tensor& x, double sigma, const at::Tensor& denoised) { return (x - denoised) / sigma; }

// The index of the last step whose target sigma is > 0, or -1.
int64_t last_positive_step(const std::vector<double>& s) {
  for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i)
    if (s[static_cast<size_t>(i + 1)] > 0) return i;
  return -1;
}

}  // namespace

at::Tensor run_sampler(const SamplerOptions& o, const Model& model, at::Tensor x, const std::vector<double>& s,
                       SampleContext& ctx) {
  at::Tensor start = x;
  at::Tensor out = run_steps(o, model, std::move(x), s, ctx, false);
  if (s.size() > 1 && !at::isfinite(out).all().item<bool>()) {
    SampleContext again;
    again.seed = ctx.seed;
    run_steps(o, model, start, s, again, true);  // throws naming the sigma
    throw std::runtime_error("the sampler produced NaN or Inf values (the model's outputs were finite)");
  }
  return out;
}

namespace {

at::Tensor run_steps(const SamplerOptions& o, const Model& model, at::Tensor x, const std::vector<double>& s,
                     SampleContext& ctx, bool locate) {
  const std::string& name = o.name;
  const auto n = static_cast<int64_t>(s.size()) - 1;
  if (n <= 0) return x;
  // Like ComfyUI's default noise sampler on the CPU, per-step noise uses seed + 1 (the initial
  // noise uses the seed itself).
  Run run(model, x, ctx, ctx.seed + 1, locate);
  const bool lof = o.lower_order_final < 0 ? n < 15 : o.lower_order_final != 0;
  const int64_t last_pos = last_positive_step(s);
  // Order cap for multistep samplers at step i.
  auto order_cap = [&](int64_t i) -> int {
    if (!lof) return 1 << 20;
    if (i == last_pos) return 1;
    if (i == last_pos - 1) return 2;
    return 1 << 20;
  };
  auto churn = [&](int64_t i, at::Tensor& xs) {
    double sigma = s[static_cast<size_t>(i)];
    double gamma = 0;
    if (o.s_churn > 0 && o.s_tmin <= sigma && sigma <= o.s_tmax)
      gamma = std::min(o.s_churn / static_cast<double>(n), std::sqrt(2.0) - 1);
    double sigma_hat = sigma * (gamma + 1);
    if (gamma > 0) xs = xs + run.noise(xs) * o.s_noise * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
    return sigma_hat;
  };

  if (name == "euler" || name == "heun" || name == "dpm_2") {
    for (int64_t i = 0; i < n; ++i) {
      double sn = s[static_cast<size_t>(i + 1)];
      double sh = churn(i, x);
      at::Tensor den = run.denoise(x, sh);
      if (sn == 0) {
        x = den;  // the step into 0 returns the denoised estimate exactly
      } else {
        at::Tensor d = to_d(x, sh, den);
        if (name == "euler") {
          x = x + d * (sn - sh);
        } else if (name == "heun") {
          double dt = sn - sh;
          at::Tensor x2 = x + d * dt;
          at::Tensor d2 = to_d(x2, sn, run.denoise(x2, sn));
          x = x + (d + d2) * (dt / 2);
        } else {
          double mid = std::exp((std::log(sh) + std::log(sn)) / 2);
          at::Tensor x2 = x + d * (mid - sh);
          at::Tensor d2 = to_d(x2, mid, run.denoise(x2, mid));
          x = x + d2 * (sn - sh);
        }
      }
      run.progress(i + 1, n);
    }
  } else if (name == "euler_ancestral" || name == "dpm_2_ancestral" || name == "dpmpp_2s_ancestral") {
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      auto [down, up] = ancestral_step(si, sn, o.eta);
      if (down == 0) {
        x = den;
      } else if (name == "euler_ancestral") {
        x = x + to_d(x, si, den) * (down - si);
      } else if (name == "dpm_2_ancestral") {
        double mid = std::exp((std::log(si) + std::log(down)) / 2);
        at::Tensor x2 = x + to_d(x, si, den) * (mid - si);
        at::Tensor d2 = to_d(x2, mid, run.denoise(x2, mid));
        x = x + d2 * (down - si);
      } else {
        double t = -std::log(si), t_next = -std::log(down), h = t_next - t, sm = t + 0.5 * h;
        double sigma_s = std::exp(-sm);
        at::Tensor x2 = (sigma_s / si) * x - std::expm1(-h * 0.5) * den;
        at::Tensor den2 = run.denoise(x2, sigma_s);
        x = (down / si) * x - std::expm1(-h) * den2;
      }
      if (sn > 0 && up > 0) x = x + run.noise(x) * (o.s_noise * up);
      run.progress(i + 1, n);
    }
  } else if (name == "lms") {
    std::deque<at::Tensor> ds;
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      ds.push_back(to_d(x, si, den));
      if (static_cast<int>(ds.size()) > o.max_order) ds.pop_front();
      if (sn == 0) {
        x = den;
      } else {
        int order = std::min<int>({static_cast<int>(i + 1), o.max_order, order_cap(i)});
        for (int j = 0; j < order; ++j) {
          double c = linear_multistep_coeff(order, s, static_cast<int>(i), j);
          x = x + ds[ds.size() - 1 - static_cast<size_t>(j)] * c;
        }
      }
      run.progress(i + 1, n);
    }
  } else if (name == "dpmpp_2m") {
    at::Tensor old;
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      if (sn == 0) {
        x = den;
      } else {
        double t = -std::log(si), t_next = -std::log(sn), h = t_next - t;
        if (!old.defined() || order_cap(i) < 2) {
          x = (sn / si) * x - std::expm1(-h) * den;
        } else {
          double h_last = t + std::log(s[static_cast<size_t>(i - 1)]);
          double r = h_last / h;
          at::Tensor dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old;
          x = (sn / si) * x - std::expm1(-h) * dd;
        }
      }
      old = den;
      run.progress(i + 1, n);
    }
  } else if (name == "dpmpp_2m_sde") {
    if (o.solver_type != "midpoint" && o.solver_type != "heun")
      throw std::invalid_argument("solver_type must be midpoint or heun, got '" + o.solver_type + "'");
    at::Tensor old;
    double h_last = 0, h = 0;
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      if (sn == 0) {
        x = den;
      } else {
        h = std::log(si) - std::log(sn);
        double eta_h = o.eta * h, h_eta = h + eta_h;
        x = (sn / si * std::exp(-eta_h)) * x + (-std::expm1(-h_eta)) * den;
        if (old.defined() && order_cap(i) >= 2) {
          double r = h_last / h;
          if (o.solver_type == "heun")
            x = x + ((-std::expm1(-h_eta)) / (-h_eta) + 1) * (1 / r) * (den - old);
          else
            x = x + 0.5 * (-std::expm1(-h_eta)) * (1 / r) * (den - old);
        }
        if (o.eta > 0 && o.s_noise > 0) x = x + run.noise(x) * (sn * std::sqrt(-std::expm1(-2 * eta_h)) * o.s_noise);
      }
      old = den;
      h_last = h;
      run.progress(i + 1, n);
    }
  } else if (name == "dpmpp_3m_sde") {
    at::Tensor d1, d2;  // previous denoised values
    double h = 0, h1 = 0, h2 = 0;
    bool have1 = false, have2 = false;
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      bool stepped = false;
      if (sn == 0) {
        x = den;
      } else {
        stepped = true;
        h = std::log(si) - std::log(sn);
        double h_eta = h * (o.eta + 1);
        x = (sn / si * std::exp(-h * o.eta)) * x + (-std::expm1(-h_eta)) * den;
        int cap = order_cap(i);
        double phi2 = std::expm1(-h_eta) / h_eta + 1;
        if (have2 && cap >= 3) {
          double r0 = h1 / h, r1 = h2 / h;
          at::Tensor d1_0 = (den - d1) / r0, d1_1 = (d1 - d2) / r1;
          at::Tensor dd1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1));
          at::Tensor dd2 = (d1_0 - d1_1) / (r0 + r1);
          double phi3 = phi2 / h_eta - 0.5;
          x = x + phi2 * dd1 - phi3 * dd2;
        } else if (have1 && cap >= 2) {
          double r = h1 / h;
          x = x + phi2 * ((den - d1) / r);
        }
        if (o.eta > 0 && o.s_noise > 0)
          x = x + run.noise(x) * (sn * std::sqrt(-std::expm1(-2 * h * o.eta)) * o.s_noise);
      }
      (void)stepped;
      d2 = d1;
      d1 = den;
      have2 = have1;
      have1 = true;
      h2 = h1;
      h1 = h;
      run.progress(i + 1, n);
    }
  } else if (name == "ipndm" || name == "ipndm_v") {
    std::vector<at::Tensor> buf;
    const int max_order = o.max_order;
    for (int64_t i = 0; i < n; ++i) {
      double tc = s[static_cast<size_t>(i)], tn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, tc);
      at::Tensor d = (x - den) / tc;
      int order = std::min<int>({max_order, static_cast<int>(i + 1), order_cap(i)});
      double dt = tn - tc;
      if (tn == 0) {
        x = den;
      } else if (order == 1) {
        x = x + dt * d;
      } else if (name == "ipndm") {
        const size_t b = buf.size();
        if (order == 2) x = x + dt * (3 * d - buf[b - 1]) / 2;
        else if (order == 3) x = x + dt * (23 * d - 16 * buf[b - 1] + 5 * buf[b - 2]) / 12;
        else x = x + dt * (55 * d - 59 * buf[b - 1] + 37 * buf[b - 2] - 9 * buf[b - 3]) / 24;
      } else {
        const size_t b = buf.size();
        auto S = [&](int64_t k) { return s[static_cast<size_t>(k)]; };
        double hn = dt, hn1 = tc - S(i - 1);
        if (order == 2) {
          double c1 = (2 + hn / hn1) / 2, c2 = -(hn / hn1) / 2;
          x = x + dt * (c1 * d + c2 * buf[b - 1]);
        } else if (order == 3) {
          double hn2 = S(i - 1) - S(i - 2);
          double temp = (1 - hn / (3 * (hn + hn1)) * (hn * (hn + hn1)) / (hn1 * (hn1 + hn2))) / 2;
          double c1 = (2 + hn / hn1) / 2 + temp;
          double c2 = -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp;
          double c3 = temp * hn1 / hn2;
          x = x + dt * (c1 * d + c2 * buf[b - 1] + c3 * buf[b - 2]);
        } else {
          double hn2 = S(i - 1) - S(i - 2), hn3 = S(i - 2) - S(i - 3);
          double temp1 = (1 - hn / (3 * (hn + hn1)) * (hn * (hn + hn1)) / (hn1 * (hn1 + hn2))) / 2;
          double temp2 = ((1 - hn / (3 * (hn + hn1))) / 2 + (1 - hn / (2 * (hn + hn1))) * hn / (6 * (hn + hn1 + hn2))) *
                         (hn * (hn + hn1) * (hn + hn1 + hn2)) / (hn1 * (hn1 + hn2) * (hn1 + hn2 + hn3));
          double q = hn1 * (hn1 + hn2) / (hn2 * (hn2 + hn3));
          double c1 = (2 + hn / hn1) / 2 + temp1 + temp2;
          double c2 = -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp1 - (1 + hn1 / hn2 + q) * temp2;
          double c3 = temp1 * hn1 / hn2 + (hn1 / hn2 + q * (1 + hn2 / hn3)) * temp2;
          double c4 = -temp2 * q * hn1 / hn2;
          x = x + dt * (c1 * d + c2 * buf[b - 1] + c3 * buf[b - 2] + c4 * buf[b - 3]);
        }
      }
      if (static_cast<int>(buf.size()) == max_order - 1) {
        for (int k = 0; k < max_order - 2; ++k) buf[static_cast<size_t>(k)] = buf[static_cast<size_t>(k + 1)];
        buf.back() = d;
      } else {
        buf.push_back(d);
      }
      run.progress(i + 1, n);
    }
  } else if (name == "ddpm") {
    for (int64_t i = 0; i < n; ++i) {
      double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, si);
      at::Tensor eps = (x - den) / si;
      at::Tensor xv = x / std::sqrt(1.0 + si * si);  // VP-space state
      double ac = 1 / (si * si + 1), ac_prev = 1 / (sn * sn + 1), alpha = ac / ac_prev;
      at::Tensor mu = std::sqrt(1.0 / alpha) * (xv - (1 - alpha) * eps / std::sqrt(1 - ac));
      if (sn > 0) {
        mu = mu + std::sqrt((1 - alpha) * (1 - ac_prev) / (1 - ac)) * run.noise(x);
        x = mu * std::sqrt(1.0 + sn * sn);
      } else {
        x = mu;
      }
      run.progress(i + 1, n);
    }
  } else if (name == "lcm") {
    for (int64_t i = 0; i < n; ++i) {
      double sn = s[static_cast<size_t>(i + 1)];
      at::Tensor den = run.denoise(x, s[static_cast<size_t>(i)]);
      x = den;
      if (sn > 0) x = x + run.noise(x) * (sn * o.s_noise);
      run.progress(i + 1, n);
    }
  } else {
    throw std::invalid_argument("unknown sampler '" + name + "'");
  }
  return x;
}

}  // namespace

}  // namespace sf::nodes
