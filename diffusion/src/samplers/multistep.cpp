// Multistep ODE samplers: they reuse earlier derivatives or denoised values (the history), and
// follow the lower_order_final rule of their settings.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <stdexcept>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
double at_(const std::vector<double>& s, int64_t i) { return s[static_cast<size_t>(i)]; }

// DPM-Solver++(3M) in t = -ln sigma: weights on [x_i, D_i, D_1, D_2] (the earlier denoised
// values, most recent first) of k-diffusion's sample_dpmpp_3m_sde at eta = 0, for the step
// si -> sj > 0 with the sigmas of the k = past.size() <= 2 earlier steps, most recent first.
std::vector<double> dpmpp_3m_coefficients(double si, double sj, const std::vector<double>& past) {
  const double h = std::log(si / sj), e = -std::expm1(-h), phi2 = std::expm1(-h) / h + 1, phi3 = phi2 / h - 0.5;
  if (past.empty()) return {sj / si, e};
  const double r0 = std::log(past[0] / si) / h;
  if (past.size() == 1) return {sj / si, e + phi2 / r0, -phi2 / r0};
  const double r1 = std::log(past[1] / past[0]) / h, a = 1 / r0, b = 1 / r1, q = r0 / (r0 + r1), u = 1 / (r0 + r1);
  // d1_0 = a (D - D_1), d1_1 = b (D_1 - D_2); x += phi2 [(1 + q) d1_0 - q d1_1] - phi3 u (d1_0 - d1_1).
  return {sj / si, e + phi2 * (1 + q) * a - phi3 * u * a, -phi2 * ((1 + q) * a + q * b) + phi3 * u * (a + b),
          phi2 * q * b - phi3 * u * b};
}

void push_history(std::vector<at::Tensor>& buf, const at::Tensor& d, int capacity) {
  if (static_cast<int>(buf.size()) == capacity && capacity > 0) {
    for (int k = 0; k + 1 < capacity; ++k) buf[static_cast<size_t>(k)] = buf[static_cast<size_t>(k + 1)];
    buf.back() = d;
  } else {
    buf.push_back(d);
  }
}

}  // namespace

double linear_multistep_coeff(int order, const std::vector<double>& t, int i, int j) {
  if (order - 1 > i)
    throw std::invalid_argument("LMS order " + std::to_string(order) + " too high for step " + std::to_string(i));
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

std::vector<double> ipndm_v_coefficients(const std::vector<double>& s, int64_t i, int order) {
  const double hn = at_(s, i + 1) - at_(s, i), hn1 = at_(s, i) - at_(s, i - 1);
  if (order == 2) return {(2 + hn / hn1) / 2, -(hn / hn1) / 2};
  const double hn2 = at_(s, i - 1) - at_(s, i - 2);
  const double temp1 = (1 - hn / (3 * (hn + hn1)) * (hn * (hn + hn1)) / (hn1 * (hn1 + hn2))) / 2;
  if (order == 3) return {(2 + hn / hn1) / 2 + temp1, -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp1, temp1 * hn1 / hn2};
  const double hn3 = at_(s, i - 2) - at_(s, i - 3);
  const double temp2 = ((1 - hn / (3 * (hn + hn1))) / 2 + (1 - hn / (2 * (hn + hn1))) * hn / (6 * (hn + hn1 + hn2))) *
                       (hn * (hn + hn1) * (hn + hn1 + hn2)) / (hn1 * (hn1 + hn2) * (hn1 + hn2 + hn3));
  const double q = hn1 * (hn1 + hn2) / (hn2 * (hn2 + hn3));
  return {(2 + hn / hn1) / 2 + temp1 + temp2, -(hn / hn1) / 2 - (1 + hn1 / hn2) * temp1 - (1 + hn1 / hn2 + q) * temp2,
          temp1 * hn1 / hn2 + (hn1 / hn2 + q * (1 + hn2 / hn3)) * temp2, -temp2 * q * hn1 / hn2};
}

// k-diffusion sample_lms: linear multistep on the derivative, order up to settings.max_order.
at::Tensor lms(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::deque<at::Tensor> ds;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si);
    ds.push_back(derivative(x, si, den));
    if (static_cast<int>(ds.size()) > o.max_order) ds.pop_front();
    if (sn == 0) return den;
    int order = std::min<int>({static_cast<int>(i + 1), o.max_order, order_cap(s, i, o.lower_order_final)});
    for (int j = 0; j < order; ++j)
      x = x + ds[ds.size() - 1 - static_cast<size_t>(j)] * linear_multistep_coeff(order, s, static_cast<int>(i), j);
    return x;
  });
}

// k-diffusion sample_dpmpp_2m: DPM-Solver++(2M) in t = -ln sigma; first order on the first step.
at::Tensor dpmpp_2m(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  at::Tensor old;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si), prev = old;
    old = den;
    if (sn == 0) return den;
    double t = -std::log(si), h = -std::log(sn) - t;
    if (!prev.defined() || order_cap(s, i, o.lower_order_final) < 2) return (sn / si) * x - std::expm1(-h) * den;
    double r = (t + std::log(at_(s, i - 1))) / h;  // h_last / h
    at::Tensor dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * prev;
    return (sn / si) * x - std::expm1(-h) * dd;
  });
}

// DPM-Solver++(3M), the ODE: k-diffusion sample_dpmpp_3m_sde with eta = 0; orders 1 and 2 on the
// first two steps.
at::Tensor dpmpp_3m(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::vector<at::Tensor> hist;  // earlier denoised values, most recent first
  std::vector<double> past;      // their sigmas
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double si, double sn) {
    at::Tensor den = run.denoise(x, si);
    if (sn != 0) {
      const auto k = static_cast<size_t>(std::min<int64_t>({3, i + 1, order_cap(s, i, o.lower_order_final)}) - 1);
      auto c = dpmpp_3m_coefficients(si, sn, std::vector<double>(past.begin(), past.begin() + k));
      at::Tensor next = c[0] * x + c[1] * den;
      for (size_t q = 0; q < k; ++q) next = next + c[q + 2] * hist[q];
      x = next;
    } else {
      x = den;
    }
    hist.insert(hist.begin(), den);
    past.insert(past.begin(), si);
    if (hist.size() > 2) {
      hist.pop_back();
      past.pop_back();
    }
    return x;
  });
}

// ComfyUI sample_ipndm: Adams-Bashforth on the derivative with fixed coefficients.
at::Tensor ipndm(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::vector<at::Tensor> buf;  // earlier derivatives, oldest first, at most max_order - 1
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double tc, double tn) {
    at::Tensor den = run.denoise(x, tc);
    at::Tensor d = (x - den) / tc;
    int order = std::min<int>({o.max_order, static_cast<int>(i + 1), order_cap(s, i, o.lower_order_final)});
    const size_t b = buf.size();
    const double dt = tn - tc;
    if (tn == 0)
      x = den;
    else if (order == 1)
      x = x + dt * d;
    else if (order == 2)
      x = x + dt * (3 * d - buf[b - 1]) / 2;
    else if (order == 3)
      x = x + dt * (23 * d - 16 * buf[b - 1] + 5 * buf[b - 2]) / 12;
    else
      x = x + dt * (55 * d - 59 * buf[b - 1] + 37 * buf[b - 2] - 9 * buf[b - 3]) / 24;
    push_history(buf, d, o.max_order - 1);
    return x;
  });
}

// ComfyUI sample_ipndm_v: Adams-Bashforth with coefficients for variable step sizes.
at::Tensor ipndm_v(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  std::vector<at::Tensor> buf;
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double tc, double tn) {
    at::Tensor den = run.denoise(x, tc);
    at::Tensor d = (x - den) / tc;
    int order = std::min<int>({o.max_order, static_cast<int>(i + 1), order_cap(s, i, o.lower_order_final)});
    if (tn == 0) {
      x = den;
    } else if (order == 1) {
      x = x + (tn - tc) * d;
    } else {
      auto c = ipndm_v_coefficients(s, i, order);
      at::Tensor sum = c[0] * d;
      for (size_t k = 1; k < c.size(); ++k) sum = sum + c[k] * buf[buf.size() - k];
      x = x + (tn - tc) * sum;
    }
    push_history(buf, d, o.max_order - 1);
    return x;
  });
}

}  // namespace sf::diffusion::samplers

// ---- Step forms (sigmaflow/step_form.h): the same steps as algebra, lower_order_final off -----

namespace sf::diffusion::samplers {

namespace {

Status multistep_settings(const SamplerSettings& o, bool reads_max_order) {
  if (o.lower_order_final != LowerOrderFinal::kOff)
    return InvalidArgument(
               "lower_order_final must be off (the k-diffusion and ComfyUI behaviour) for a step form: otherwise the "
               "order of a step depends on the total step count, which optimal_steps shares across all N")
        .about("lower_order_final", o.lower_order_final == LowerOrderFinal::kOn ? "on" : "auto");
  if (reads_max_order && (o.max_order < 1 || o.max_order > 4))
    return InvalidArgument("max_order must be 1 to 4").about("max_order", std::to_string(o.max_order));
  return Status::Ok();
}

// ComfyUI sample_ipndm's fixed Adams-Bashforth weights, current derivative first.
std::vector<double> adams_bashforth(int order) {
  switch (order) {
    case 1:
      return {1.0};
    case 2:
      return {3.0 / 2, -1.0 / 2};
    case 3:
      return {23.0 / 12, -16.0 / 12, 5.0 / 12};
    default:
      return {55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24};
  }
}

// Weights on the derivatives (current first) -> weights on [x_i, D_i, h_1..h_k], with
// d_i = (x_i - D_i) / sigma_i and the step multiplied by `scale`.
std::vector<double> from_derivative_weights(const std::vector<double>& w, double sigma_i, double scale, size_t k) {
  std::vector<double> c(2 + k, 0.0);
  c[0] = 1.0 + scale * w[0] / sigma_i;
  c[1] = -scale * w[0] / sigma_i;
  for (size_t q = 1; q < w.size(); ++q) c[1 + q] = scale * w[q];
  return c;
}

class DenoisedHistoryForm : public StepForm {
 public:
  explicit DenoisedHistoryForm(int capacity) : capacity_(capacity) {}
  History history() const override { return History::kDenoised; }
  int history_capacity() const override { return capacity_; }

 private:
  int capacity_;
};

class Dpmpp2mForm final : public DenoisedHistoryForm {
 public:
  Dpmpp2mForm() : DenoisedHistoryForm(1) {}
  // x_j = (s_j/s_i) x_i - expm1(-h) [(1 + 1/2r) D_i - (1/2r) D_prev].
  std::vector<double> coefficients(double si, double sj, const std::vector<double>& past) const override {
    const double h = std::log(si / sj), e = -std::expm1(-h);
    if (past.empty()) return {sj / si, e};
    const double r = std::log(past[0] / si) / h;
    return {sj / si, e * (1 + 1 / (2 * r)), -e / (2 * r)};
  }
};

class Dpmpp3mForm final : public DenoisedHistoryForm {
 public:
  Dpmpp3mForm() : DenoisedHistoryForm(2) {}
  std::vector<double> coefficients(double si, double sj, const std::vector<double>& past) const override {
    return dpmpp_3m_coefficients(si, sj, past);
  }
};

// lms, ipndm, ipndm_v: weights on the current and max_order - 1 earlier derivatives.
class DerivativeHistoryForm final : public StepForm {
 public:
  enum class Rule { kLms, kIpndm, kIpndmV };
  DerivativeHistoryForm(Rule rule, int max_order) : rule_(rule), max_order_(max_order) {}
  std::string settings_key() const override { return "max_order=" + std::to_string(max_order_); }
  History history() const override { return History::kDerivative; }
  int history_capacity() const override { return max_order_ - 1; }
  std::vector<double> coefficients(double si, double sj, const std::vector<double>& past) const override {
    const size_t k = past.size();
    const int order = std::min<int>(max_order_, static_cast<int>(k) + 1);
    if (rule_ == Rule::kIpndm) return from_derivative_weights(adams_bashforth(order), si, sj - si, k);
    // The schedule as the samplers see it: the past (oldest first), sigma_i, sigma_j.
    std::vector<double> s(past.rbegin(), past.rend());
    s.push_back(si);
    s.push_back(sj);
    const auto i = static_cast<int64_t>(k);
    if (rule_ == Rule::kIpndmV)
      return from_derivative_weights(order == 1 ? std::vector<double>{1.0} : ipndm_v_coefficients(s, i, order), si,
                                     sj - si, k);
    std::vector<double> w(static_cast<size_t>(order));  // lms: x_j = x_i + sum_q coeff(order, s, i, q) d_(i-q)
    for (int q = 0; q < order; ++q)
      w[static_cast<size_t>(q)] = linear_multistep_coeff(order, s, static_cast<int>(i), q);
    return from_derivative_weights(w, si, 1.0, k);
  }

 private:
  Rule rule_;
  int max_order_;
};

template <class Make>
Result<std::shared_ptr<const StepForm>> multistep_form(const SamplerSettings& o, bool reads_max_order, Make&& make) {
  Status st = multistep_settings(o, reads_max_order);
  if (!st.ok()) return st;
  return std::shared_ptr<const StepForm>(make());
}

Result<std::shared_ptr<const StepForm>> derivative_form(const SamplerSettings& o, DerivativeHistoryForm::Rule rule) {
  return multistep_form(o, true, [&] { return std::make_shared<DerivativeHistoryForm>(rule, o.max_order); });
}

}  // namespace

Result<std::shared_ptr<const StepForm>> lms_form(const SamplerSettings& o) {
  return derivative_form(o, DerivativeHistoryForm::Rule::kLms);
}
Result<std::shared_ptr<const StepForm>> ipndm_form(const SamplerSettings& o) {
  return derivative_form(o, DerivativeHistoryForm::Rule::kIpndm);
}
Result<std::shared_ptr<const StepForm>> ipndm_v_form(const SamplerSettings& o) {
  return derivative_form(o, DerivativeHistoryForm::Rule::kIpndmV);
}
Result<std::shared_ptr<const StepForm>> dpmpp_2m_form(const SamplerSettings& o) {
  return multistep_form(o, false, [] { return std::make_shared<Dpmpp2mForm>(); });
}
Result<std::shared_ptr<const StepForm>> dpmpp_3m_form(const SamplerSettings& o) {
  return multistep_form(o, false, [] { return std::make_shared<Dpmpp3mForm>(); });
}

}  // namespace sf::diffusion::samplers
