#include "support/gaussian_reference.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace sf::test {

namespace {
ModelInfo gaussian_info(double c, int64_t dim, c10::ScalarType dtype) {
  ModelInfo i;
  i.sigma_min = 0.002;
  i.sigma_max = 80.0;
  i.sample_shape = {dim};
  i.dtype = dtype;
  i.sigma_data = c;
  i.fingerprint = "gaussian-" + std::to_string(c) + "-" + std::to_string(dim);
  i.description = "MODEL N(0, " + std::to_string(c) + "^2 I) in " + std::to_string(dim) + "-D";
  return i;
}
}  // namespace

GaussianModel::GaussianModel(double c, int64_t dim, c10::ScalarType dtype)
    : Model(gaussian_info(c, dim, dtype)), c_(c) {}

at::Tensor GaussianModel::denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning&) const {
  ++calls;
  at::Tensor s2 = sigma.to_tensor(x.size(0), x.options()).pow(2).view({-1, 1});
  return x * (c_ * c_) / (c_ * c_ + s2);
}

double exact_multiplier(double c, double from, double to) {
  return std::sqrt((c * c + to * to) / (c * c + from * from));
}

namespace {
// D(x)/x and the slope (x - D)/(sigma x) on N(0, c^2).
double dm(double c, double s) { return c * c / (c * c + s * s); }
double slope(double c, double s) { return s / (c * c + s * s); }

// Lagrange basis integral, written as a direct polynomial expansion (independent of the
// Gauss-Legendre quadrature in the sampler): integrate prod_{k != j} (tau - t_k)/(t_j - t_k).
double lms_coeff(int order, const std::vector<double>& t, int i, int j) {
  // Build the polynomial coefficients of the numerator.
  std::vector<double> poly{1.0};
  double denom = 1.0;
  for (int k = 0; k < order; ++k) {
    if (k == j) continue;
    double tk = t[static_cast<size_t>(i - k)];
    std::vector<double> next(poly.size() + 1, 0.0);
    for (size_t p = 0; p < poly.size(); ++p) {
      next[p + 1] += poly[p];
      next[p] -= tk * poly[p];
    }
    poly = next;
    denom *= t[static_cast<size_t>(i - j)] - tk;
  }
  double a = t[static_cast<size_t>(i)], b = t[static_cast<size_t>(i + 1)], sum = 0;
  for (size_t p = 0; p < poly.size(); ++p)
    sum += poly[p] * (std::pow(b, static_cast<double>(p + 1)) - std::pow(a, static_cast<double>(p + 1))) /
           static_cast<double>(p + 1);
  return sum / denom;
}
}  // namespace

double reference_multiplier(const std::string& name, double c, const std::vector<double>& s, int lof_opt) {
  const int n = static_cast<int>(s.size()) - 1;
  const bool lof = lof_opt < 0 ? n < 15 : lof_opt != 0;
  int last_pos = -1;
  for (int i = n - 1; i >= 0; --i)
    if (s[static_cast<size_t>(i + 1)] > 0) {
      last_pos = i;
      break;
    }
  auto cap = [&](int i) { return !lof ? 99 : (i == last_pos ? 1 : (i == last_pos - 1 ? 2 : 99)); };
  double m = 1.0;
  std::vector<double> hist;  // past slopes*m (d values) or denoised multipliers
  double old_den = 0;
  bool have_old = false;
  std::vector<double> dens, hs;  // dpmpp_3m: earlier denoised multipliers and log steps, most recent last
  for (int i = 0; i < n; ++i) {
    double a = s[static_cast<size_t>(i)], b = s[static_cast<size_t>(i + 1)];
    double den = dm(c, a) * m;
    double d = slope(c, a) * m;
    if (b == 0) {
      m = den;
      continue;
    }
    if (name == "euler") {
      m = m + d * (b - a);
    } else if (name == "heun") {
      double m2 = m + d * (b - a);
      double d2 = slope(c, b) * m2;
      m = m + (d + d2) / 2 * (b - a);
    } else if (name == "dpm_2") {
      double mid = std::sqrt(a * b);  // exp of the mean of the logs
      double m2 = m + d * (mid - a);
      m = m + slope(c, mid) * m2 * (b - a);
    } else if (name == "dpmpp_2m" || name == "dpmpp_2m_sde_eta0") {
      double h = std::log(a / b);
      if (!have_old || cap(i) < 2) {
        m = (b / a) * m + (1 - std::exp(-h)) * den;
      } else {
        double r = std::log(s[static_cast<size_t>(i - 1)] / a) / h;
        m = (b / a) * m + (1 - std::exp(-h)) * ((1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old_den);
      }
    } else if (name == "dpmpp_3m") {
      // k-diffusion sample_dpmpp_3m_sde with eta = 0, as written there.
      const double h = std::log(a / b), phi2 = std::expm1(-h) / h + 1;
      m = std::exp(-h) * m - std::expm1(-h) * den;
      const size_t k = dens.size();
      if (k >= 2 && cap(i) >= 3) {
        const double r0 = hs[k - 1] / h, r1 = hs[k - 2] / h;
        const double d1_0 = (den - dens[k - 1]) / r0, d1_1 = (dens[k - 1] - dens[k - 2]) / r1;
        const double d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1), d2 = (d1_0 - d1_1) / (r0 + r1);
        m = m + phi2 * d1 - (phi2 / h - 0.5) * d2;
      } else if (k >= 1 && cap(i) >= 2) {
        m = m + phi2 * (den - dens[k - 1]) / (hs[k - 1] / h);
      }
      dens.push_back(den);
      hs.push_back(h);
    } else if (name == "lms") {
      hist.push_back(d);
      if (hist.size() > 4) hist.erase(hist.begin());
      int order = std::min({i + 1, 4, cap(i)});
      for (int j = 0; j < order; ++j) m += lms_coeff(order, s, i, j) * hist[hist.size() - 1 - static_cast<size_t>(j)];
    } else if (name == "ipndm") {
      int order = std::min({4, i + 1, cap(i)});
      size_t k = hist.size();
      double dt = b - a;
      if (order == 1)
        m = m + dt * d;
      else if (order == 2)
        m = m + dt * (3 * d - hist[k - 1]) / 2;
      else if (order == 3)
        m = m + dt * (23 * d - 16 * hist[k - 1] + 5 * hist[k - 2]) / 12;
      else
        m = m + dt * (55 * d - 59 * hist[k - 1] + 37 * hist[k - 2] - 9 * hist[k - 3]) / 24;
      hist.push_back(d);
      if (hist.size() > 3) hist.erase(hist.begin());
    } else if (name == "ipndm_v") {
      // ComfyUI sample_ipndm_v, its variable-step coefficients written out as there (h_n = t_next - t_cur).
      int order = std::min({4, i + 1, cap(i)});
      size_t k = hist.size();
      double hn = b - a, c1 = 1, c2 = 0, c3 = 0, c4 = 0;
      if (order >= 2) {
        double hn1 = a - s[static_cast<size_t>(i - 1)];
        c1 = (2 + hn / hn1) / 2;
        c2 = -(hn / hn1) / 2;
        if (order >= 3) {
          double hn2 = s[static_cast<size_t>(i - 1)] - s[static_cast<size_t>(i - 2)];
          double t1 = (1 - hn / (3 * (hn + hn1)) * (hn * (hn + hn1)) / (hn1 * (hn1 + hn2))) / 2;
          if (order == 3) {
            c1 += t1;
            c2 -= (1 + hn1 / hn2) * t1;
            c3 = t1 * hn1 / hn2;
          } else {
            double hn3 = s[static_cast<size_t>(i - 2)] - s[static_cast<size_t>(i - 3)];
            double t2 = ((1 - hn / (3 * (hn + hn1))) / 2 + (1 - hn / (2 * (hn + hn1))) * hn / (6 * (hn + hn1 + hn2))) *
                        (hn * (hn + hn1) * (hn + hn1 + hn2)) / (hn1 * (hn1 + hn2) * (hn1 + hn2 + hn3));
            double q = hn1 * (hn1 + hn2) / (hn2 * (hn2 + hn3));
            c1 += t1 + t2;
            c2 += -(1 + hn1 / hn2) * t1 - (1 + hn1 / hn2 + q) * t2;
            c3 = t1 * hn1 / hn2 + (hn1 / hn2 + q * (1 + hn2 / hn3)) * t2;
            c4 = -t2 * q * hn1 / hn2;
          }
        }
      }
      double sum = c1 * d;
      if (order >= 2) sum += c2 * hist[k - 1];
      if (order >= 3) sum += c3 * hist[k - 2];
      if (order >= 4) sum += c4 * hist[k - 3];
      m = m + hn * sum;
      hist.push_back(d);
      if (hist.size() > 3) hist.erase(hist.begin());
    } else {
      throw std::invalid_argument("no reference for " + name);
    }
    old_den = den;
    have_old = true;
  }
  return m;
}

}  // namespace sf::test
