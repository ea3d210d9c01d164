#include "sigmaflow/diffusion/sigmas.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>

#include "sigmaflow/node.h"

namespace sf::diffusion {

namespace {
std::string num(double v) { return number_text(v); }
}  // namespace

Sigmas Sigmas::from_tensor(const at::Tensor& sigmas) {
  at::Tensor t = sigmas.detach().to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  const double* p = t.data_ptr<double>();
  return Sigmas(std::vector<double>(p, p + t.numel()));
}

at::Tensor Sigmas::to_tensor() const {
  at::Tensor t = at::empty({static_cast<int64_t>(values_.size())}, at::kFloat);
  auto* p = t.data_ptr<float>();
  for (size_t i = 0; i < values_.size(); ++i) p[i] = static_cast<float>(values_[i]);
  return t;
}

Value Sigmas::to_value() const { return Value("SIGMAS", to_tensor()); }

Sigmas Sigmas::rounded_to_float32() const {
  std::vector<double> out;
  out.reserve(values_.size());
  for (double v : values_) out.push_back(static_cast<double>(static_cast<float>(v)));
  return Sigmas(std::move(out));
}

int64_t Sigmas::total_steps_for_denoise(int64_t steps, double denoise) {
  if (denoise >= 1.0) return steps;
  if (denoise <= 0.0) return 0;
  // In float: a tiny denoise (1e-300, in range) must not overflow the integer (it did: a crash).
  // The quotient is bounded (not its floor): the rule sigmaflow validate checks.
  const double quotient = static_cast<double>(steps) / denoise, total = std::floor(quotient);
  if (!(quotient <= static_cast<double>(kMaxDenoiseTotalSteps)))
    throw InputError("denoise", number_text(denoise),
                     "with steps " + std::to_string(steps) + " it asks for a schedule of int(steps / denoise) = " +
                         number_text(total, 3) + " steps, more than " + std::to_string(kMaxDenoiseTotalSteps) +
                         "; use a larger denoise or fewer steps");
  return static_cast<int64_t>(total);
}

Sigmas Sigmas::last_steps(int64_t steps) const {
  if (steps < 0 || static_cast<int64_t>(values_.size()) <= steps + 1) return *this;
  return Sigmas(std::vector<double>(values_.end() - (steps + 1), values_.end()));
}

std::string Sigmas::format(size_t max_items) const {
  std::string out = "[";
  for (size_t i = 0; i < values_.size(); ++i) {
    if (i == max_items && values_.size() > max_items + 1) {
      out += ", ...";
      i = values_.size() - 1;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", values_[i]);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "]";
}

void Sigmas::check_sampling(const std::string& input) const {
  const auto& s = values_;
  for (size_t i = 0; i < s.size(); ++i) {
    std::string at = "sigma " + std::to_string(i);
    if (!std::isfinite(s[i])) throw InputError(input, format(), at + " is not finite (" + num(s[i]) + ")");
    if (s[i] < 0) throw InputError(input, format(), at + " is negative (" + num(s[i]) + ")");
    if (i > 0 && !(s[i] < s[i - 1]))
      throw InputError(input, format(),
                       "SIGMAS must be strictly descending: " + at + " = " + num(s[i]) + " follows " + num(s[i - 1]));
  }
}

Status Sigmas::check_full_schedule(int64_t steps) const { return sf::check_full_schedule(values_, steps); }

}  // namespace sf::diffusion
