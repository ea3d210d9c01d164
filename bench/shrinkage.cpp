#include "shrinkage.h"

#include <array>
#include <cmath>
#include <cstddef>

namespace sf::bench {

namespace {

// Solves A z = r for a symmetric positive-definite pentadiagonal A given by its bands
// (diag[i] = A_ii, off1[i] = A_{i,i+1}, off2[i] = A_{i,i+2}), by elimination without pivoting
// (safe for SPD matrices), in O(n).
std::vector<double> solve_pentadiagonal(std::vector<double> diag, std::vector<double> off1, std::vector<double> off2,
                                        std::vector<double> r) {
  const size_t n = diag.size();
  // Row i holds A_{i,i..i+2} after elimination; the lower part equals the upper by symmetry
  // before elimination, so keep the sub-diagonals of the untouched rows in sub1/sub2.
  std::vector<double> sub1(off1), sub2(off2);
  for (size_t k = 0; k + 1 < n; ++k) {
    for (size_t i = k + 1; i <= k + 2 && i < n; ++i) {
      const double a_ik = i == k + 1 ? sub1[k] : sub2[k];
      const double f = a_ik / diag[k];
      // Row i -= f * row k over columns k..k+2.
      if (i == k + 1) {
        diag[i] -= f * off1[k];
        if (k + 2 < n) off1[i] -= f * off2[k];
      } else {
        sub1[i - 1] -= f * off1[k];  // A_{i,k+1} = A_{k+2,k+1}
        diag[i] -= f * off2[k];
      }
      r[i] -= f * r[k];
    }
  }
  std::vector<double> z(n);
  for (size_t i = n; i-- > 0;) {
    double s = r[i];
    if (i + 1 < n) s -= off1[i] * z[i + 1];
    if (i + 2 < n) s -= off2[i] * z[i + 2];
    z[i] = s / diag[i];
  }
  return z;
}

bool strictly_descending_positive(const std::vector<double>& s) {
  if (s.size() < 2 || s.back() != 0.0) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (!(s[i] > s[i + 1]) || !(s[i] > 0)) return false;
  return true;
}

}  // namespace

std::vector<double> smoothed_in_log_sigma(const std::vector<double>& sigmas, double strength) {
  if (!strictly_descending_positive(sigmas) || !(strength >= 0) || !std::isfinite(strength)) return {};
  const size_t n = sigmas.size() - 1;  // positive values
  if (n < 3 || strength == 0) return sigmas;
  // The ends are pinned by a data weight far above the penalty's (relative 1e12).
  const double pin = 1e12 * (1 + strength);
  std::vector<double> diag(n, 1.0), off1(n, 0.0), off2(n, 0.0), r(n);
  diag.front() = diag.back() = pin;
  for (size_t i = 0; i < n; ++i) r[i] = diag[i] * std::log(sigmas[i]);
  // strength * D^T D, D the (n - 2) x n second-difference matrix with rows (1, -2, 1).
  static constexpr std::array<double, 3> kRow{1.0, -2.0, 1.0};
  for (size_t k = 0; k + 2 < n; ++k)
    for (size_t a = 0; a < 3; ++a)
      for (size_t b = a; b < 3; ++b) {
        const double v = strength * kRow[a] * kRow[b];
        if (b == a) diag[k + a] += v;
        if (b == a + 1) off1[k + a] += v;
        if (b == a + 2) off2[k + a] += v;
      }
  std::vector<double> z = solve_pentadiagonal(diag, off1, off2, r);
  std::vector<double> out(sigmas.size(), 0.0);
  out.front() = sigmas.front();
  out[n - 1] = sigmas[n - 1];
  for (size_t i = 1; i + 1 < n; ++i) out[i] = std::exp(z[i]);
  return strictly_descending_positive(out) ? out : std::vector<double>{};
}

std::vector<double> blended_in_log_sigma(const std::vector<double>& a, const std::vector<double>& b, double w) {
  if (a.size() != b.size() || !strictly_descending_positive(a) || !strictly_descending_positive(b)) return {};
  if (w == 1) return a;
  if (w == 0) return b;
  std::vector<double> out(a.size(), 0.0);  // the final 0 stays
  for (size_t i = 0; i + 1 < a.size(); ++i)
    out[i] = a[i] == b[i] ? a[i] : std::exp(w * std::log(a[i]) + (1 - w) * std::log(b[i]));
  return out;
}

}  // namespace sf::bench
