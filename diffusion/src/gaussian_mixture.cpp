#include "sigmaflow/diffusion/gaussian_mixture.h"

#include <ATen/ATen.h>

#include <cfloat>
#include <cmath>
#include <map>
#include <sstream>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/status.h"

namespace sf::diffusion {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

// Throws InputError unless every value of `t` stays finite (and, for variances, positive) in
// `dtype`, including the squares and reciprocals the denoiser forms.
void check_representable(const at::Tensor& t, c10::ScalarType dtype, const std::string& input, bool positive) {
  const double limit = dtype == at::kFloat ? static_cast<double>(FLT_MAX) : DBL_MAX;
  const double tiny = dtype == at::kFloat ? static_cast<double>(FLT_MIN) : DBL_MIN;
  const double big = t.abs().max().item<double>();
  if (!std::isfinite(big) || big * big > limit)
    throw InputError(input, std::to_string(big),
                     "value " + std::to_string(big) + " is too large for " + c10::toString(dtype) +
                         " (its square must stay below " + std::to_string(limit) + ")");
  if (positive) {
    const double small = t.min().item<double>();
    if (!(small >= tiny))
      throw InputError(input, std::to_string(small),
                       "variance " + std::to_string(small) + " is below the smallest normal " + c10::toString(dtype) +
                           " (" + std::to_string(tiny) + "): the denoiser would divide by zero");
  }
}

ModelInfo mixture_info(const MixtureParams& p, double sigma_min, double sigma_max, c10::Device device,
                       c10::ScalarType dtype) {
  ModelInfo info;
  info.sigma_min = sigma_min;
  info.sigma_max = sigma_max;
  info.sample_shape = p.sample_shape;
  info.device = device;
  info.dtype = dtype;
  info.parametrization = Parametrization::kDenoiser;
  // sigma_data: RMS per-coordinate std of the data distribution.
  at::Tensor mean = (p.weights.unsqueeze(1) * p.means).sum(0);
  at::Tensor second = (p.weights.unsqueeze(1) * (p.variances + p.means.pow(2))).sum(0);
  info.sigma_data = std::sqrt((second - mean.pow(2)).mean().item<double>());
  uint64_t h = fnv1a("gmm-v1", 6);
  for (const at::Tensor& t : {p.weights, p.means, p.variances}) {
    at::Tensor c = t.contiguous();
    h = fnv1a(c.data_ptr(), static_cast<size_t>(c.nbytes()), h);
  }
  for (double v : {sigma_min, sigma_max}) h = fnv1a(&v, sizeof v, h);
  std::string dt = c10::toString(dtype);
  h = fnv1a(dt.data(), dt.size(), h);
  if (!p.labels.empty()) h = fnv1a(p.labels.data(), p.labels.size() * sizeof(int64_t), h);
  info.fingerprint = "gmm-" + hex64(h);
  for (int64_t l : p.labels) info.num_classes = std::max(info.num_classes, l + 1);
  std::ostringstream os;
  os << "MODEL Gaussian mixture '" << p.name << "' (" << p.weights.size(0) << " components, " << p.means.size(1) << "-D"
     << (info.num_classes ? ", " + std::to_string(info.num_classes) + " classes" : std::string()) << ") sigma ["
     << sigma_min << ", " << sigma_max << "] " << c10::toString(dtype) << " on " << device.str();
  info.description = os.str();
  return info;
}

// The rows of `sigma` listed in `rows`.
NoiseLevels select_rows(const NoiseLevels& sigma, const std::vector<int64_t>& rows) {
  if (sigma.uniform()) return sigma;
  std::vector<double> v;
  v.reserve(rows.size());
  for (int64_t r : rows) v.push_back(sigma[r]);
  return NoiseLevels(std::move(v));
}

}  // namespace

const std::vector<std::string>& mixture_preset_names() {
  static const std::vector<std::string> names = {"clusters2d", "ring8", "powerlaw64", "ring8_classes"};
  return names;
}

MixtureParams mixture_preset(const std::string& name) {
  MixtureParams p;
  p.name = name;
  if (name == "ring8_classes") {
    // ring8 with two classes: label 0 on the even modes, 1 on the odd ones.
    p = mixture_preset("ring8");
    p.name = name;
    for (int64_t k = 0; k < 8; ++k) p.labels.push_back(k % 2);
  } else if (name == "ring8") {
    // 8 equal modes on the unit circle, std 0.05.
    const int K = 8;
    p.means = at::empty({K, 2}, at::kDouble);
    for (int k = 0; k < K; ++k) {
      p.means[k][0] = std::cos(2 * M_PI * k / K);
      p.means[k][1] = std::sin(2 * M_PI * k / K);
    }
    p.variances = at::full({K, 2}, 0.05 * 0.05, at::kDouble);
    p.weights = at::full({K}, 1.0 / K, at::kDouble);
    p.sample_shape = {2};
  } else if (name == "clusters2d") {
    // Clusters of clusters: 4 clusters at radius 2, each of 4 sub-clusters at radius 0.3 with
    // std 0.02, unequal weights: structure at three scales (2, 0.3, 0.02).
    const int K = 16;
    p.means = at::empty({K, 2}, at::kDouble);
    p.weights = at::empty({K}, at::kDouble);
    const double outer_w[4] = {0.4, 0.3, 0.2, 0.1};
    for (int c = 0; c < 4; ++c) {
      double cx = 2 * std::cos(M_PI / 4 + M_PI / 2 * c), cy = 2 * std::sin(M_PI / 4 + M_PI / 2 * c);
      for (int s = 0; s < 4; ++s) {
        int k = 4 * c + s;
        p.means[k][0] = cx + 0.3 * std::cos(M_PI / 2 * s);
        p.means[k][1] = cy + 0.3 * std::sin(M_PI / 2 * s);
        p.weights[k] = outer_w[c] / 4;
      }
    }
    p.variances = at::full({K, 2}, 0.02 * 0.02, at::kDouble);
    p.sample_shape = {2};
  } else if (name == "powerlaw64") {
    // 64-D, 10 components; per-coordinate scale lambda_j = (j + 1)^-1 (a power-law spectrum like
    // natural images); means ~ N(0, 0.5 lambda), variances 0.25 lambda. Fixed seed.
    const int K = 10, d = 64;
    at::Tensor lambda = at::arange(1, d + 1, at::kDouble).pow(-1.0);
    at::Generator gen = cpu_generator(20241207);
    p.means = at::randn({K, d}, gen, at::TensorOptions().dtype(at::kDouble)) * (0.5 * lambda).sqrt();
    p.variances = (0.25 * lambda).unsqueeze(0).repeat({K, 1}).contiguous();
    p.weights = at::full({K}, 1.0 / K, at::kDouble);
    p.sample_shape = {d};
  } else {
    throw InputError("preset", name,
                     "unknown preset '" + name + "' (clusters2d, ring8, powerlaw64, ring8_classes, custom)");
  }
  return p;
}

GaussianMixture::GaussianMixture(MixtureParams params, double sigma_min, double sigma_max, c10::Device device,
                                 c10::ScalarType dtype)
    : Model(mixture_info(params, sigma_min, sigma_max, device, dtype)), params_(std::move(params)) {
  check_representable(params_.means, dtype, "means", false);
  check_representable(params_.variances, dtype, params_.name == "custom" ? "stds" : "preset", true);
  if (!params_.labels.empty() && static_cast<int64_t>(params_.labels.size()) != components())
    throw InputError("labels", std::to_string(params_.labels.size()) + " labels",
                     "expected one label per component (" + std::to_string(components()) + ")");
  for (int64_t l : params_.labels)
    if (l < 0) throw InputError("labels", std::to_string(l), "class labels must be >= 0");
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  weights_ = params_.weights.to(opts);
  log_weights_ = params_.weights.log().to(opts);
  means_ = params_.means.to(opts);
  variances_ = params_.variances.to(opts);
  mean_sq_ = params_.means.pow(2).to(opts);
}

at::Tensor GaussianMixture::class_log_weights(int64_t c) const {
  at::Tensor mask = at::zeros({components()}, at::kBool);
  for (int64_t k = 0; k < components(); ++k) mask[k] = params_.labels[static_cast<size_t>(k)] == c;
  at::Tensor w = at::where(mask, params_.weights, at::zeros_like(params_.weights));
  return (w / w.sum()).log().to(log_weights_.options());
}

at::Tensor GaussianMixture::log_joint_one_sigma(const at::Tensor& xf, double s, const at::Tensor& log_weights,
                                                at::Tensor* posterior_mean) const {
  const int64_t d = means_.size(1);
  // One sigma for the rows: everything reduces to [B,d] x [d,K] products.
  at::Tensor prec = (variances_ + s * s).reciprocal();  // [K, d]
  at::Tensor quad =
      at::matmul(xf * xf, prec.t()) - 2 * at::matmul(xf, (means_ * prec).t()) + (mean_sq_ * prec).sum(1);  // [B, K]
  // The normalising constant -d/2 log(2 pi) cancels in the responsibilities; added for densities.
  at::Tensor lj = log_weights + 0.5 * (prec.log().sum(1) - quad);
  if (!posterior_mean) return lj - 0.5 * d * kLog2Pi;
  at::Tensor r = at::softmax(lj, 1);      // [B, K]
  at::Tensor shrink = variances_ * prec;  // v / (v + s^2)
  *posterior_mean = at::matmul(r, means_ * (1 - shrink)) + xf * at::matmul(r, shrink);
  return lj;
}

at::Tensor GaussianMixture::log_joint(const at::Tensor& xf, const NoiseLevels& sigma, const at::Tensor& log_weights,
                                      at::Tensor* posterior_mean) const {
  const int64_t B = xf.size(0), K = means_.size(0);
  if (sigma.uniform()) return log_joint_one_sigma(xf, sigma.value(), log_weights, posterior_mean);
  // Per-row levels are grouped (cost estimators send one level per block of rows); each group
  // takes the matmul path. Batches of mostly distinct levels take the broadcast path.
  std::map<double, std::vector<int64_t>> groups;
  for (int64_t b = 0; b < B; ++b) groups[sigma[b]].push_back(b);
  if (groups.size() == 1) return log_joint_one_sigma(xf, sigma[0], log_weights, posterior_mean);
  if (static_cast<int64_t>(groups.size()) * 8 > B) return log_joint_broadcast(xf, sigma, log_weights, posterior_mean);
  at::Tensor lj = at::empty({B, K}, xf.options());
  at::Tensor pm = posterior_mean ? at::empty_like(xf) : at::Tensor();
  for (const auto& [s, rows] : groups) {
    at::Tensor idx = at::tensor(rows, at::kLong).to(xf.device());
    at::Tensor gpm;
    at::Tensor glj = log_joint_one_sigma(xf.index_select(0, idx), s, log_weights, posterior_mean ? &gpm : nullptr);
    lj.index_copy_(0, idx, glj);
    if (posterior_mean) pm.index_copy_(0, idx, gpm);
  }
  if (posterior_mean) *posterior_mean = pm;
  return lj;
}

at::Tensor GaussianMixture::log_joint_broadcast(const at::Tensor& xf, const NoiseLevels& sigma,
                                                const at::Tensor& log_weights, at::Tensor* posterior_mean) const {
  const int64_t B = xf.size(0), K = means_.size(0), d = means_.size(1);
  // Per-sample sigmas: broadcast over [b, K, d] in chunks that bound memory.
  at::Tensor s2 = sigma.to_tensor(B, xf.options()).pow(2);  // [B]
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, K * d));
  std::vector<at::Tensor> ljs, pms;
  for (int64_t b0 = 0; b0 < B; b0 += chunk) {
    int64_t b1 = std::min(B, b0 + chunk);
    at::Tensor x = xf.slice(0, b0, b1).unsqueeze(1);                                  // [b,1,d]
    at::Tensor tot = variances_.unsqueeze(0) + s2.slice(0, b0, b1).view({-1, 1, 1});  // [b,K,d]
    at::Tensor diff = x - means_.unsqueeze(0);
    at::Tensor lj = log_weights.unsqueeze(0) - 0.5 * ((diff * diff / tot).sum(2) + tot.log().sum(2) + d * kLog2Pi);
    ljs.push_back(lj);
    if (posterior_mean) {
      at::Tensor r = at::softmax(lj, 1).unsqueeze(2);                                // [b,K,1]
      at::Tensor comp = means_.unsqueeze(0) + variances_.unsqueeze(0) / tot * diff;  // [b,K,d]
      pms.push_back((r * comp).sum(1));
    }
  }
  if (posterior_mean) *posterior_mean = at::cat(pms, 0);
  return at::cat(ljs, 0);
}

at::Tensor GaussianMixture::denoise_batch(const at::Tensor& x, const NoiseLevels& sigma,
                                          const Conditioning& cond) const {
  at::Tensor xf = x.reshape({x.size(0), -1}).to(dtype());
  at::Tensor pm;
  if (!cond.labels.defined()) {
    log_joint(xf, sigma, log_weights_, &pm);
    return pm.reshape(x.sizes()).to(x.scalar_type());
  }
  if (classes() == 0)
    throw InputError("conditioning", "class labels", "this mixture has no class labels: it is unconditional");
  at::Tensor labels = cond.labels.to(at::kCPU, at::kLong).reshape({-1}).contiguous();
  const int64_t B = x.size(0);
  if (labels.numel() != 1 && labels.numel() != B)
    throw InputError("conditioning", c10::str(labels.sizes()),
                     "expected one class label or one per row (" + std::to_string(B) + ")");
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t b = 0; b < B; ++b) groups[labels.data_ptr<int64_t>()[labels.numel() == 1 ? 0 : b]].push_back(b);
  pm = at::empty_like(xf);
  for (const auto& [c, rows] : groups) {
    if (c < 0 || c >= classes())
      throw InputError(
          "conditioning", std::to_string(c),
          "class label " + std::to_string(c) + " is outside the mixture's classes 0.." + std::to_string(classes() - 1));
    at::Tensor idx = at::tensor(rows, at::kLong).to(xf.device());
    at::Tensor gpm;
    log_joint(xf.index_select(0, idx), select_rows(sigma, rows), class_log_weights(c), &gpm);
    pm.index_copy_(0, idx, gpm);
  }
  return pm.reshape(x.sizes()).to(x.scalar_type());
}

at::Tensor GaussianMixture::log_density(const at::Tensor& x, double sigma) const {
  at::Tensor xf = x.reshape({x.size(0), -1}).to(device(), dtype());
  return at::logsumexp(log_joint(xf, NoiseLevels(sigma), log_weights_, nullptr), 1).to(at::kDouble);
}

at::Tensor GaussianMixture::sample_data(int64_t n, uint64_t seed) const {
  at::Generator gen = cpu_generator(seed);
  at::Tensor k = at::multinomial(params_.weights, n, /*replacement=*/true, gen);
  at::Tensor z = at::randn({n, dim()}, gen, at::TensorOptions().dtype(at::kDouble));
  at::Tensor x = params_.means.index_select(0, k) + params_.variances.index_select(0, k).sqrt() * z;
  return x.reshape(batch_shape(n, params_.sample_shape)).to(at::TensorOptions().dtype(dtype()).device(device()));
}

}  // namespace sf::diffusion
