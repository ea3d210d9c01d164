#include "torchscript_model.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "../common/device.h"

namespace sf::nodes {

DiscreteTable::DiscreteTable(std::vector<double> s) : sigmas_(std::move(s)) {
  if (sigmas_.size() < 2) throw std::invalid_argument("a discrete sigma table needs at least 2 entries");
  for (size_t i = 0; i < sigmas_.size(); ++i) {
    if (!(sigmas_[i] > 0) || !std::isfinite(sigmas_[i]) || (i && !(sigmas_[i] > sigmas_[i - 1])))
      throw std::invalid_argument("a discrete sigma table must be positive, finite and strictly ascending (entry " +
                                  std::to_string(i) + ")");
    log_sigmas_.push_back(std::log(sigmas_[i]));
  }
}

DiscreteTable DiscreteTable::linear_beta(double b0, double b1, int64_t steps) {
  if (!(b0 > 0) || !(b1 > b0) || b1 >= 1 || steps < 2)
    throw std::invalid_argument("linear-beta table needs 0 < beta_start < beta_end < 1 and steps >= 2");
  at::Tensor betas = at::linspace(std::sqrt(b0), std::sqrt(b1), steps, at::kDouble).pow(2);
  at::Tensor ac = at::cumprod(1 - betas, 0);
  at::Tensor sig = ((1 - ac) / ac).sqrt().contiguous();
  return DiscreteTable(std::vector<double>(sig.data_ptr<double>(), sig.data_ptr<double>() + sig.numel()));
}

double DiscreteTable::nearest(double sigma) const {
  double ls = std::log(sigma), best = 1e300;
  size_t idx = 0;
  for (size_t i = 0; i < log_sigmas_.size(); ++i)
    if (std::fabs(ls - log_sigmas_[i]) < best) {
      best = std::fabs(ls - log_sigmas_[i]);
      idx = i;
    }
  return static_cast<double>(idx);
}

double DiscreteTable::timestep(double sigma) const {
  double ls = std::log(sigma);
  size_t n = log_sigmas_.size();
  // Last index whose log sigma is <= ls, clamped to [0, n - 2] (k-diffusion's sigma_to_t).
  size_t low = static_cast<size_t>(std::upper_bound(log_sigmas_.begin(), log_sigmas_.end(), ls) - log_sigmas_.begin());
  low = low == 0 ? 0 : std::min(low - 1, n - 2);
  double w = (log_sigmas_[low] - ls) / (log_sigmas_[low] - log_sigmas_[low + 1]);
  w = std::clamp(w, 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

double DiscreteTable::sigma_at(double t) const {
  t = std::clamp(t, 0.0, static_cast<double>(sigmas_.size() - 1));
  auto lo = static_cast<size_t>(std::floor(t)), hi = static_cast<size_t>(std::ceil(t));
  double w = t - std::floor(t);
  return std::exp((1 - w) * log_sigmas_[lo] + w * log_sigmas_[hi]);
}

namespace {
const char* kParams[] = {"eps", "v", "x0", "edm", "flow"};
const char* kTimes[] = {"sigma", "log_sigma_quarter", "discrete_index", "flow_t1000"};
bool one_of(const std::string& v, const char* const* list, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (v == list[i]) return true;
  return false;
}
}  // namespace

TorchScriptModel::TorchScriptModel(TorchScriptSettings s) : s_(std::move(s)) {
  if (!one_of(s_.parametrization, kParams, 5)) throw std::invalid_argument("unknown parametrization '" + s_.parametrization + "'");
  if (!one_of(s_.time_input, kTimes, 4)) throw std::invalid_argument("unknown time_input '" + s_.time_input + "'");
  if (s_.time_input == "discrete_index" && !s_.table)
    throw std::invalid_argument("time_input discrete_index needs a discrete table");
  if (s_.sample_shape.empty()) throw std::invalid_argument("sample_shape is empty");
  sigma_min_ = s_.table ? s_.table->sigmas().front() : s_.sigma_min;
  sigma_max_ = s_.table ? s_.table->sigmas().back() : s_.sigma_max;
  if (!(sigma_min_ > 0) || !(sigma_min_ < sigma_max_))
    throw std::invalid_argument("sigma_min must be > 0 and < sigma_max");

  std::ifstream f(s_.path, std::ios::binary);
  if (!f) throw std::invalid_argument("cannot open '" + s_.path + "'");
  std::stringstream bytes;
  bytes << f.rdbuf();
  std::string data = bytes.str();
  try {
    module_ = std::make_unique<torch::jit::Module>(torch::jit::load(s_.path, s_.device));
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw std::invalid_argument("'" + s_.path + "' is not a loadable TorchScript file: " + what.substr(0, what.find('\n')));
  }
  module_->eval();
  module_->to(s_.device, s_.dtype);
  for (auto p : module_->parameters()) p.set_requires_grad(false);
  auto method = module_->find_method("forward");
  if (!method) throw std::invalid_argument("'" + s_.path + "' has no forward method");
  size_t args = method->function().getSchema().arguments().size();
  if (args != 3)
    throw std::invalid_argument("'" + s_.path + "': forward must take (x, t) (2 arguments), it takes " +
                                std::to_string(args - 1));
  // Probe once so a wrong output shape is reported at load, not in the middle of sampling.
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), s_.sample_shape.begin(), s_.sample_shape.end());
  at::Tensor x = at::zeros(shape, at::TensorOptions().dtype(s_.dtype).device(s_.device));
  at::Tensor out = denoise(x, at::full({1}, sigma_max_, x.options()));
  if (out.sizes() != x.sizes())
    throw std::invalid_argument("'" + s_.path + "': forward returned shape " + c10::str(out.sizes()) + " for input " +
                                c10::str(x.sizes()));

  uint64_t h = fnv1a(data.data(), data.size());
  std::ostringstream key;
  key.precision(17);
  key << s_.parametrization << '|' << s_.time_input << '|' << s_.rounding << '|' << s_.sigma_data << '|' << sigma_min_
      << '|' << sigma_max_ << '|' << c10::toString(s_.dtype) << '|' << (s_.table ? s_.table->sigmas().size() : 0);
  if (s_.table)
    for (double v : s_.table->sigmas()) h = fnv1a(&v, sizeof v, h);
  for (auto d : s_.sample_shape) key << '|' << d;
  std::string k = key.str();
  fingerprint_ = "torchscript-" + hex64(fnv1a(k.data(), k.size(), h));
}

TorchScriptModel::~TorchScriptModel() = default;

double TorchScriptModel::network_time(double sigma) const {
  if (s_.time_input == "sigma") return s_.parametrization == "flow" ? sigma / (1 + sigma) : sigma;
  if (s_.time_input == "log_sigma_quarter") return 0.25 * std::log(sigma);
  if (s_.time_input == "flow_t1000") return 1000.0 * sigma / (1 + sigma);
  return s_.rounding == "nearest" ? s_.table->nearest(sigma) : s_.table->timestep(sigma);
}

double TorchScriptModel::timestep(double sigma) const {
  if (s_.table) return s_.table->nearest(sigma);
  return Model::timestep(sigma);
}

double TorchScriptModel::sigma_at(double t) const {
  if (s_.table) return s_.table->sigma_at(t);
  return Model::sigma_at(t);
}

at::Tensor TorchScriptModel::sigma_table() const {
  if (!s_.table) return Model::sigma_table();
  const auto& v = s_.table->sigmas();
  at::Tensor t = at::empty({static_cast<int64_t>(v.size())}, at::kDouble);
  std::copy(v.begin(), v.end(), t.data_ptr<double>());
  return t;
}

at::Tensor TorchScriptModel::denoise(const at::Tensor& x, const at::Tensor& sigma) const {
  // Times are computed on the host from the (host-side) sigmas: one small copy per call.
  at::Tensor sig_cpu = sigma.detach().to(at::kCPU, at::kDouble).contiguous();
  const int64_t B = x.size(0);
  at::Tensor times = at::empty({B}, at::kDouble);
  const double* sp = sig_cpu.data_ptr<double>();
  double* tp = times.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b) tp[b] = network_time(sp[b]);
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[0] = B;
  auto opts = x.options();
  at::Tensor s = sig_cpu.to(opts).view(view);
  const double sd = s_.sigma_data;
  const std::string& p = s_.parametrization;
  at::Tensor c_in;
  if (p == "eps") c_in = (s * s + 1).rsqrt();
  else if (p == "flow") c_in = 1 / (1 + s);
  else c_in = (s * s + sd * sd).rsqrt();
  std::vector<torch::jit::IValue> args{x * c_in, times.to(opts)};
  at::Tensor out = module_->forward(args).toTensor();
  if (out.sizes() != x.sizes())
    throw std::runtime_error("'" + s_.path + "': forward returned shape " + c10::str(out.sizes()) + " for input " +
                             c10::str(x.sizes()));
  out = out.to(x.scalar_type());
  if (p == "eps") return x - s * out;
  if (p == "x0") return out;
  if (p == "flow") return x * c_in - (s / (1 + s)) * out;
  at::Tensor skip = sd * sd / (s * s + sd * sd), scale = s * sd * (s * s + sd * sd).rsqrt();
  return p == "v" ? x * skip - out * scale : x * skip + out * scale;
}

std::string TorchScriptModel::describe() const {
  std::ostringstream os;
  os << "MODEL TorchScript '" << s_.path << "' (" << s_.parametrization << ", time " << s_.time_input << ") sigma ["
     << sigma_min_ << ", " << sigma_max_ << "] on " << s_.device.str();
  return os.str();
}

}  // namespace sf::nodes
