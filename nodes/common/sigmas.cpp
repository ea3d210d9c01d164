#include "sigmas.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>

#include "sigmaflow/node.h"

namespace sf::nodes {

at::Tensor sigmas_tensor(const std::vector<double>& sigmas) {
  at::Tensor t = at::empty({static_cast<int64_t>(sigmas.size())}, at::kFloat);
  auto* p = t.data_ptr<float>();
  for (size_t i = 0; i < sigmas.size(); ++i) p[i] = static_cast<float>(sigmas[i]);
  return t;
}

sf::Value sigmas_value(const std::vector<double>& sigmas) { return sf::Value("SIGMAS", sigmas_tensor(sigmas)); }

std::vector<double> sigmas_vector(const at::Tensor& sigmas) {
  at::Tensor t = sigmas.detach().to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  const double* p = t.data_ptr<double>();
  return std::vector<double>(p, p + t.numel());
}

std::string format_sigmas(const std::vector<double>& s, size_t max_items) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == max_items && s.size() > max_items + 1) {
      out += ", ...";
      i = s.size() - 1;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", s[i]);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "]";
}

void check_sampling_sigmas(const std::vector<double>& s, const std::string& input) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!std::isfinite(s[i]))
      throw InputError(input, format_sigmas(s), "sigma " + std::to_string(i) + " is not finite (" + std::to_string(s[i]) + ")");
    if (s[i] < 0)
      throw InputError(input, format_sigmas(s), "sigma " + std::to_string(i) + " is negative (" + std::to_string(s[i]) + ")");
    if (i > 0 && !(s[i] < s[i - 1]))
      throw InputError(input, format_sigmas(s),
                       "SIGMAS must be strictly descending: sigma " + std::to_string(i) + " = " + std::to_string(s[i]) +
                           " follows " + std::to_string(s[i - 1]));
  }
}

}  // namespace sf::nodes
