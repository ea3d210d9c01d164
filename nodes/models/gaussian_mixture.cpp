#include "gaussian_mixture.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <sstream>

#include "../common/device.h"
#include "sigmaflow/node.h"

namespace sf::nodes {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

// A literal list of numbers (depth 1) or of equal-length number lists (depth 2).
std::vector<std::vector<double>> matrix_of(const Literal& l, const std::string& input, bool allow_flat) {
  if (!l.is_list()) throw InputError(input, l.to_json(), "expected a list ({\"__value__\": [...]})");
  std::vector<std::vector<double>> rows;
  for (const auto& row : l.as_list()) {
    if (row.is_number()) {
      if (!allow_flat) throw InputError(input, l.to_json(), "expected a list of lists (one per component)");
      rows.push_back({row.as_number()});
      continue;
    }
    if (!row.is_list()) throw InputError(input, l.to_json(), "entries must be numbers or lists of numbers");
    std::vector<double> r;
    for (const auto& v : row.as_list()) {
      if (!v.is_number()) throw InputError(input, l.to_json(), "non-numeric entry " + v.to_json());
      r.push_back(v.as_number());
    }
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw InputError(input, l.to_json(), "the list is empty");
  for (const auto& r : rows)
    if (r.size() != rows[0].size())
      throw InputError(input, l.to_json(),
                       "ragged list: rows have " + std::to_string(rows[0].size()) + " and " + std::to_string(r.size()) +
                           " entries");
  return rows;
}

at::Tensor tensor_of(const std::vector<std::vector<double>>& rows) {
  auto K = static_cast<int64_t>(rows.size()), d = static_cast<int64_t>(rows[0].size());
  at::Tensor t = at::empty({K, d}, at::kDouble);
  auto a = t.accessor<double, 2>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < d; ++j) a[k][j] = rows[static_cast<size_t>(k)][static_cast<size_t>(j)];
  return t;
}

}  // namespace

MixtureParams mixture_from_lists(const Literal* weights, const Literal& means, const Literal* stds,
                                 const Literal* variances, bool normalize) {
  MixtureParams p;
  p.name = "custom";
  auto mu_rows = matrix_of(means, "means", true);
  // A flat list of numbers means K one-dimensional components.
  p.means = tensor_of(mu_rows);
  const int64_t K = p.means.size(0), d = p.means.size(1);
  p.sample_shape = {d};
  if (weights) {
    auto w = matrix_of(*weights, "weights", true);
    if (static_cast<int64_t>(w.size()) != K || w[0].size() != 1)
      throw InputError("weights", weights->to_json(),
                       "expected " + std::to_string(K) + " weights (one per mean), got " + std::to_string(w.size()));
    p.weights = at::empty({K}, at::kDouble);
    double sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      double v = w[static_cast<size_t>(k)][0];
      if (!(v >= 0) || !std::isfinite(v))
        throw InputError("weights", weights->to_json(), "weights must be finite and >= 0, got " + std::to_string(v));
      p.weights[k] = v;
      sum += v;
    }
    if (!(sum > 0)) throw InputError("weights", weights->to_json(), "weights sum to 0");
    if (std::fabs(sum - 1.0) > 1e-6) {
      if (!normalize)
        throw InputError("weights", weights->to_json(),
                         "weights sum to " + std::to_string(sum) + ", not 1 (set normalize: true to rescale them)");
    }
    p.weights = p.weights / sum;
  } else {
    p.weights = at::full({K}, 1.0 / static_cast<double>(K), at::kDouble);
  }
  if (stds && variances) throw InputError("stds", stds->to_json(), "give either stds or variances, not both");
  if (!stds && !variances) throw InputError("stds", "null", "give per-component stds (isotropic) or variances (diagonal)");
  if (stds) {
    auto s = matrix_of(*stds, "stds", true);
    if (static_cast<int64_t>(s.size()) != K || s[0].size() != 1)
      throw InputError("stds", stds->to_json(), "expected " + std::to_string(K) + " stds (one per component)");
    p.variances = at::empty({K, d}, at::kDouble);
    for (int64_t k = 0; k < K; ++k) {
      double v = s[static_cast<size_t>(k)][0];
      if (!(v > 0) || !std::isfinite(v))
        throw InputError("stds", stds->to_json(), "stds must be finite and > 0, got " + std::to_string(v));
      p.variances[k].fill_(v * v);
    }
  } else {
    auto v = matrix_of(*variances, "variances", d == 1);
    if (static_cast<int64_t>(v.size()) != K || static_cast<int64_t>(v[0].size()) != d)
      throw InputError("variances", variances->to_json(),
                       "expected " + std::to_string(K) + " rows of " + std::to_string(d) + " variances");
    for (const auto& row : v)
      for (double x : row)
        if (!(x > 0) || !std::isfinite(x))
          throw InputError("variances", variances->to_json(),
                           "variances must be finite and > 0, got " + std::to_string(x));
    p.variances = tensor_of(v);
  }
  return p;
}

const std::vector<std::string>& mixture_preset_names() {
  static const std::vector<std::string> names = {"clusters2d", "ring8", "powerlaw64"};
  return names;
}

MixtureParams mixture_preset(const std::string& name) {
  MixtureParams p;
  p.name = name;
  if (name == "ring8") {
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
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20241207);
    p.means = at::randn({K, d}, gen, at::TensorOptions().dtype(at::kDouble)) * (0.5 * lambda).sqrt();
    p.variances = (0.25 * lambda).unsqueeze(0).repeat({K, 1}).contiguous();
    p.weights = at::full({K}, 1.0 / K, at::kDouble);
    p.sample_shape = {d};
  } else {
    throw InputError("preset", name, "unknown preset '" + name + "' (clusters2d, ring8, powerlaw64, custom)");
  }
  return p;
}

GaussianMixture::GaussianMixture(MixtureParams params, double sigma_min, double sigma_max, c10::Device device,
                                 c10::ScalarType dtype)
    : params_(std::move(params)), sigma_min_(sigma_min), sigma_max_(sigma_max), device_(device), dtype_(dtype) {
  // sigma_data: RMS per-coordinate std of the data distribution.
  at::Tensor mean = (params_.weights.unsqueeze(1) * params_.means).sum(0);
  at::Tensor second = (params_.weights.unsqueeze(1) * (params_.variances + params_.means.pow(2))).sum(0);
  sigma_data_ = std::sqrt((second - mean.pow(2)).mean().item<double>());
  auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  weights_ = params_.weights.to(opts);
  log_weights_ = params_.weights.log().to(opts);
  means_ = params_.means.to(opts);
  variances_ = params_.variances.to(opts);
  mean_sq_ = params_.means.pow(2).to(opts);
  uint64_t h = fnv1a("gmm-v1", 6);
  for (const at::Tensor& t : {params_.weights, params_.means, params_.variances}) {
    at::Tensor c = t.contiguous();
    h = fnv1a(c.data_ptr(), static_cast<size_t>(c.nbytes()), h);
  }
  for (double v : {sigma_min_, sigma_max_}) h = fnv1a(&v, sizeof v, h);
  std::string dt = c10::toString(dtype_);
  h = fnv1a(dt.data(), dt.size(), h);
  fingerprint_ = "gmm-" + hex64(h);
}

at::Tensor GaussianMixture::log_joint_one_sigma(const at::Tensor& xf, double s, at::Tensor* posterior_mean) const {
  const int64_t d = means_.size(1);
  // One sigma for the rows: everything reduces to [B,d] x [d,K] products.
  at::Tensor prec = (variances_ + s * s).reciprocal();  // [K, d]
  at::Tensor quad = at::matmul(xf * xf, prec.t()) - 2 * at::matmul(xf, (means_ * prec).t()) +
                    (mean_sq_ * prec).sum(1);  // [B, K]
  // The normalising constant -d/2 log(2 pi) cancels in the responsibilities; added for densities.
  at::Tensor lj = log_weights_ + 0.5 * (prec.log().sum(1) - quad);
  if (!posterior_mean) return lj - 0.5 * d * kLog2Pi;
  at::Tensor r = at::softmax(lj, 1);       // [B, K]
  at::Tensor shrink = variances_ * prec;   // v / (v + s^2)
  *posterior_mean = at::matmul(r, means_ * (1 - shrink)) + xf * at::matmul(r, shrink);
  return lj;
}

at::Tensor GaussianMixture::log_joint(const at::Tensor& xf, const at::Tensor& sigma, at::Tensor* posterior_mean) const {
  const int64_t B = xf.size(0), K = means_.size(0), d = means_.size(1);
  // Rows are grouped by sigma, read from host memory (no device sync): samplers send one sigma per
  // batch, cost estimators one sigma per level. Each group takes the matmul path; device sigmas
  // and batches of mostly distinct sigmas take the broadcast path below.
  std::vector<double> values;
  if (sigma.device().is_cpu() && B > 0) {
    at::Tensor sc = sigma.scalar_type() == at::kDouble ? sigma.contiguous() : sigma.to(at::kDouble).contiguous();
    values.assign(sc.data_ptr<double>(), sc.data_ptr<double>() + B);
  }
  if (!values.empty()) {
    std::map<double, std::vector<int64_t>> groups;
    for (int64_t b = 0; b < B; ++b) groups[values[static_cast<size_t>(b)]].push_back(b);
    if (groups.size() == 1) return log_joint_one_sigma(xf, values[0], posterior_mean);
    if (static_cast<int64_t>(groups.size()) * 8 <= B) {
      at::Tensor lj = at::empty({B, K}, xf.options());
      at::Tensor pm = posterior_mean ? at::empty_like(xf) : at::Tensor();
      for (const auto& [s, rows] : groups) {
        at::Tensor idx = at::tensor(rows, at::kLong).to(xf.device());
        at::Tensor gpm;
        at::Tensor glj = log_joint_one_sigma(xf.index_select(0, idx), s, posterior_mean ? &gpm : nullptr);
        lj.index_copy_(0, idx, glj);
        if (posterior_mean) pm.index_copy_(0, idx, gpm);
      }
      if (posterior_mean) *posterior_mean = pm;
      return lj;
    }
  }
  // Per-sample sigmas: broadcast over [b, K, d] in chunks that bound memory.
  at::Tensor s2 = sigma.to(xf.options()).pow(2);  // [B]
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(1, K * d));
  std::vector<at::Tensor> ljs, pms;
  for (int64_t b0 = 0; b0 < B; b0 += chunk) {
    int64_t b1 = std::min(B, b0 + chunk);
    at::Tensor x = xf.slice(0, b0, b1).unsqueeze(1);                                // [b,1,d]
    at::Tensor tot = variances_.unsqueeze(0) + s2.slice(0, b0, b1).view({-1, 1, 1});  // [b,K,d]
    at::Tensor diff = x - means_.unsqueeze(0);
    at::Tensor lj = log_weights_.unsqueeze(0) - 0.5 * ((diff * diff / tot).sum(2) + tot.log().sum(2) + d * kLog2Pi);
    ljs.push_back(lj);
    if (posterior_mean) {
      at::Tensor r = at::softmax(lj, 1).unsqueeze(2);                             // [b,K,1]
      at::Tensor comp = means_.unsqueeze(0) + variances_.unsqueeze(0) / tot * diff;  // [b,K,d]
      pms.push_back((r * comp).sum(1));
    }
  }
  if (posterior_mean) *posterior_mean = at::cat(pms, 0);
  return at::cat(ljs, 0);
}

at::Tensor GaussianMixture::denoise(const at::Tensor& x, const at::Tensor& sigma) const {
  at::Tensor xf = x.reshape({x.size(0), -1}).to(dtype_);
  at::Tensor pm;
  log_joint(xf, sigma, &pm);
  return pm.reshape(x.sizes()).to(x.scalar_type());
}

at::Tensor GaussianMixture::log_density(const at::Tensor& x, double sigma) const {
  at::Tensor xf = x.reshape({x.size(0), -1}).to(device_, dtype_);
  at::Tensor s = at::full({xf.size(0)}, sigma, at::TensorOptions().dtype(at::kDouble));
  return at::logsumexp(log_joint(xf, s, nullptr), 1).to(at::kDouble);
}

at::Tensor GaussianMixture::sample_data(int64_t n, uint64_t seed) const {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor k = at::multinomial(params_.weights, n, /*replacement=*/true, gen);
  at::Tensor z = at::randn({n, dim()}, gen, at::TensorOptions().dtype(at::kDouble));
  at::Tensor x = params_.means.index_select(0, k) + params_.variances.index_select(0, k).sqrt() * z;
  std::vector<int64_t> shape{n};
  for (auto s : params_.sample_shape) shape.push_back(s);
  return x.reshape(shape).to(at::TensorOptions().dtype(dtype_).device(device_));
}

std::string GaussianMixture::describe() const {
  std::ostringstream os;
  os << "MODEL Gaussian mixture '" << params_.name << "' (" << components() << " components, " << dim()
     << "-D) sigma [" << sigma_min_ << ", " << sigma_max_ << "] " << c10::toString(dtype_) << " on " << device_.str();
  return os.str();
}

}  // namespace sf::nodes
