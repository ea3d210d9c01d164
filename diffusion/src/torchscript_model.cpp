#include "sigmaflow/diffusion/torchscript_model.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "sigmaflow/crash_note.h"
#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"
#include "torchscript_probe.h"

namespace sf::diffusion {

DiscreteTable::DiscreteTable(std::vector<double> s) : sigmas_(std::move(s)) {
  if (sigmas_.size() < 2)
    throw InputError("sigma_list", std::to_string(sigmas_.size()) + " entries",
                     "a discrete sigma table needs at least 2 entries");
  for (size_t i = 0; i < sigmas_.size(); ++i) {
    if (!(sigmas_[i] > 0) || !std::isfinite(sigmas_[i]) || (i && !(sigmas_[i] > sigmas_[i - 1])))
      throw InputError(
          "sigma_list", c10::str(sigmas_[i]),
          "a discrete sigma table must be positive, finite and strictly ascending (entry " + std::to_string(i) + ")");
    log_sigmas_.push_back(std::log(sigmas_[i]));
  }
}

DiscreteTable DiscreteTable::linear_beta(double b0, double b1, int64_t steps) {
  const std::string rule = "a linear-beta table needs 0 < beta_start < beta_end < 1 and table_steps >= 2";
  if (!(b0 > 0) || !(b0 < 1)) throw InputError("beta_start", c10::str(b0), rule);
  if (!(b1 > b0) || b1 >= 1) throw InputError("beta_end", c10::str(b1), rule);
  if (steps < 2) throw InputError("table_steps", std::to_string(steps), rule);
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

ModelInfo torchscript_info(const TorchScriptSettings& s, const std::string& bytes) {
  ModelInfo info;
  info.sigma_min = s.table ? s.table->sigmas().front() : s.sigma_min;
  info.sigma_max = s.table ? s.table->sigmas().back() : s.sigma_max;
  info.sigma_data = s.sigma_data;
  info.sample_shape = s.sample_shape;
  info.device = s.device;
  info.dtype = s.dtype;
  info.parametrization = s.parametrization;
  info.time_input = s.time_input;
  uint64_t h = fnv1a(bytes.data(), bytes.size());
  std::ostringstream key;
  key.precision(17);
  key << to_string(s.parametrization) << '|' << to_string(s.time_input) << '|'
      << (s.nearest_timestep ? "nearest" : "interpolate") << '|' << s.sigma_data << '|' << info.sigma_min << '|'
      << info.sigma_max << '|' << c10::toString(s.dtype) << '|' << (s.table ? s.table->sigmas().size() : 0);
  if (s.table)
    for (double v : s.table->sigmas()) h = fnv1a(&v, sizeof v, h);
  for (auto d : s.sample_shape) key << '|' << d;
  std::string k = key.str();
  info.fingerprint = "torchscript-" + hex64(fnv1a(k.data(), k.size(), h));
  std::ostringstream os;
  os << "MODEL TorchScript '" << s.path << "' (" << to_string(s.parametrization) << ", time " << to_string(s.time_input)
     << ") sigma [" << info.sigma_min << ", " << info.sigma_max << "] on " << s.device.str();
  info.description = os.str();
  return info;
}

void check_settings(const TorchScriptSettings& s) {
  if (s.time_input == TimeInput::kDiscreteIndex && !s.table)
    throw InputError("time_input", "\"discrete_index\"",
                     "time_input discrete_index needs a discrete table (discrete_table linear_beta or list)");
  if (s.sample_shape.empty())
    throw InputError(
        "sample_shape", "\"\"",
        "give the per-sample shape, e.g. \"4, 64, 64\" ('" + s.path + "' carries no metadata that says it)");
  double smin = s.table ? s.table->sigmas().front() : s.sigma_min;
  double smax = s.table ? s.table->sigmas().back() : s.sigma_max;
  if (!(smin > 0) || !(smin < smax))
    throw InputError("sigma_min", c10::str(smin), "sigma_min must be > 0 and < sigma_max (" + c10::str(smax) + ")");
}

std::unique_ptr<torch::jit::Module> load_module(const TorchScriptSettings& s, uint64_t file_bytes,
                                                std::string& metadata) {
  // First in the probe process (torchscript_probe.h): a file that makes LibTorch allocate without
  // bound or crash is refused there, and this process never runs under an address-space cap.
  const std::string refused = probe_torchscript(s.path, file_bytes);
  const std::string path_value = "\"" + s.path + "\"";
  if (!refused.empty())
    throw InputError("path", path_value, "'" + s.path + "' is not a loadable TorchScript file: " + refused);
  std::unique_ptr<torch::jit::Module> module;
  try {
    // LibTorch's parser reads freed memory on some malformed files (docs/fuzzing.md): if that
    // ends the process, the report blames the file.
    ScopedCrashNote note("input 'path': '" + s.path +
                         "' is not a loadable TorchScript file (LibTorch crashed while reading it)");
    torch::jit::ExtraFilesMap extra{{kNetworkMetadataFile, ""}};
    module = std::make_unique<torch::jit::Module>(torch::jit::load(s.path, s.device, extra));
    metadata = extra[kNetworkMetadataFile];
  } catch (const std::exception& e) {
    throw InputError("path", path_value,
                     "'" + s.path + "' is not a loadable TorchScript file: " + libtorch_message(e.what()));
  }
  module->eval();
  module->to(s.device, s.dtype);
  for (auto p : module->parameters()) p.set_requires_grad(false);
  auto method = module->find_method("forward");
  if (!method) throw InputError("path", path_value, "'" + s.path + "' has no forward method");
  size_t args = method->function().getSchema().arguments().size();
  if (args != 3 && args != 4)
    throw InputError("path", path_value,
                     "'" + s.path +
                         "': forward must take (x, t) or (x, t, conditioning) (2 or 3 arguments), it takes " +
                         std::to_string(args - 1));
  return module;
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string t;
  for (int64_t d : shape) t += (t.empty() ? "" : ", ") + std::to_string(d);
  return "\"" + t + "\"";
}

}  // namespace

void apply_network_metadata(const std::string& text, TorchScriptSettings& s, TorchScriptModel::Notes& notes) {
  if (text.empty()) return;
  const std::string where = "'" + s.path + "' metadata (" + kNetworkMetadataFile + ")";
  auto j = json_nesting_depth(text) > kMaxJsonFileDepth ? nlohmann::json(nlohmann::json::value_t::discarded)
                                                        : nlohmann::json::parse(text, nullptr, false);
  TorchScriptSettings m = s;
  try {
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error("not a JSON object");
    if (j.value("format", std::string()) != "sigmaflow-network-v1")
      throw std::runtime_error("unknown format '" + j.value("format", std::string()) + "'");
    if (!parse_parametrization(j.at("parametrization").get<std::string>(), m.parametrization))
      throw std::runtime_error("unknown parametrization");
    if (!parse_time_input(j.at("time_input").get<std::string>(), m.time_input))
      throw std::runtime_error("unknown time_input");
    m.sigma_data = j.at("sigma_data").get<double>();
    m.sigma_min = j.at("sigma_min").get<double>();
    m.sigma_max = j.at("sigma_max").get<double>();
    m.sample_shape = j.at("sample_shape").get<std::vector<int64_t>>();
    if (m.sample_shape.empty() || m.sample_shape.size() > 8 ||
        std::any_of(m.sample_shape.begin(), m.sample_shape.end(), [](int64_t d) { return d < 1 || d > (1 << 24); }))
      throw std::runtime_error("bad sample_shape");
    if (!(m.sigma_data > 0) || !std::isfinite(m.sigma_data) || !(m.sigma_min > 0) || !(m.sigma_min < m.sigma_max) ||
        !std::isfinite(m.sigma_max))
      throw std::runtime_error("bad sigma values");
  } catch (const std::exception& e) {
    notes.warnings.push_back(where + " is unreadable (" + std::string(e.what()).substr(0, 200) + "); ignored");
    return;
  }
  std::vector<std::string> taken;
  auto settle = [&](bool given, const char* name, const std::string& chosen, const std::string& stored,
                    const std::function<void()>& take) {
    if (!given) {
      take();
      taken.push_back(std::string(name) + " " + stored);
    } else if (chosen != stored) {
      notes.warnings.push_back(std::string(name) + " " + chosen + " differs from " + where + ": " + stored +
                               "; using " + chosen + " as given");
    }
  };
  settle(s.given.parametrization, "parametrization", to_string(s.parametrization), to_string(m.parametrization),
         [&] { s.parametrization = m.parametrization; });
  settle(s.given.time_input, "time_input", to_string(s.time_input), to_string(m.time_input), [&] {
    s.time_input = m.time_input;
    if (s.time_input != TimeInput::kDiscreteIndex) s.table = nullptr;
  });
  settle(s.given.sigma_data, "sigma_data", number(s.sigma_data), number(m.sigma_data),
         [&] { s.sigma_data = m.sigma_data; });
  settle(s.given.sigma_min, "sigma_min", number(s.sigma_min), number(m.sigma_min), [&] { s.sigma_min = m.sigma_min; });
  settle(s.given.sigma_max, "sigma_max", number(s.sigma_max), number(m.sigma_max), [&] { s.sigma_max = m.sigma_max; });
  settle(s.given.sample_shape, "sample_shape", shape_text(s.sample_shape), shape_text(m.sample_shape),
         [&] { s.sample_shape = m.sample_shape; });
  if (!taken.empty()) {
    std::string t;
    for (const auto& x : taken) t += (t.empty() ? "" : ", ") + x;
    notes.info.push_back("from " + where + ": " + t);
  }
}

std::string network_metadata_json(const TorchScriptSettings& s) {
  nlohmann::json j;
  j["format"] = "sigmaflow-network-v1";
  j["parametrization"] = to_string(s.parametrization);
  j["time_input"] = to_string(s.time_input);
  j["sigma_data"] = s.sigma_data;
  j["sigma_min"] = s.sigma_min;
  j["sigma_max"] = s.sigma_max;
  j["sample_shape"] = s.sample_shape;
  return j.dump();
}

std::shared_ptr<TorchScriptModel> TorchScriptModel::load(TorchScriptSettings s) {
  auto bytes = read_file_bounded(s.path, kMaxDataFileBytes);
  if (!bytes.ok()) throw InputError("path", "\"" + s.path + "\"", bytes.status().message(), bytes.status().code());
  std::string metadata;
  auto module = load_module(s, bytes->size(), metadata);
  Notes notes;
  apply_network_metadata(metadata, s, notes);
  check_settings(s);
  // The probe below evaluates one sample: its size is checked first (a shape typed as
  // "100000, 100000" asked LibTorch for 40 GB and failed with its backtrace).
  uint64_t sample_bytes = 0;
  std::vector<int64_t> probe_shape{1};
  probe_shape.insert(probe_shape.end(), s.sample_shape.begin(), s.sample_shape.end());
  if (!checked_bytes(probe_shape, c10::elementSize(s.dtype), sample_bytes))
    throw InputError("sample_shape", shape_text(s.sample_shape), "the sample shape's size overflows");
  // The network's activations are many times the sample: 64 copies is a modest bound.
  Status fits = check_allocation(sample_bytes, "one sample of shape " + shape_text(s.sample_shape), 64.0);
  if (!fits.ok()) throw InputError("sample_shape", shape_text(s.sample_shape), fits.message(), fits.code());
  ModelInfo info = torchscript_info(s, *bytes);
  // A third forward argument is the conditioning embedding (any shape; checked by the network).
  info.takes_embedding = module->get_method("forward").function().getSchema().arguments().size() == 4;
  std::shared_ptr<TorchScriptModel> model(new TorchScriptModel(std::move(s), std::move(info), std::move(module)));
  model->notes_ = std::move(notes);
  // A conditional network cannot be probed without knowing its conditioning's shape: its output
  // shape is checked on every call instead.
  if (model->info().takes_embedding) return model;
  // Probe once so a wrong output shape is reported at load, not in the middle of sampling.
  at::Tensor x = at::zeros(batch_shape(1, model->sample_shape()),
                           at::TensorOptions().dtype(model->dtype()).device(model->device()));
  // Whatever fails in this one call is about the file (its network, or the sample_shape given for it).
  try {
    model->denoise(x, model->sigma_max());
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError("path", "\"" + model->s_.path + "\"",
                     libtorch_message(e.what()) + " (is sample_shape " + shape_text(model->sample_shape()) +
                         " the network's?)");
  }
  return model;
}

std::shared_ptr<TorchScriptModel> TorchScriptModel::from_module(TorchScriptSettings s, torch::jit::Module module,
                                                                const std::string& saved_bytes) {
  check_settings(s);
  ModelInfo info = torchscript_info(s, saved_bytes);
  auto m = std::make_unique<torch::jit::Module>(std::move(module));
  m->eval();
  m->to(s.device, s.dtype);
  for (auto p : m->parameters()) p.set_requires_grad(false);
  return std::shared_ptr<TorchScriptModel>(new TorchScriptModel(std::move(s), std::move(info), std::move(m)));
}

TorchScriptModel::TorchScriptModel(TorchScriptSettings settings, ModelInfo info,
                                   std::unique_ptr<torch::jit::Module> module)
    : Model(std::move(info)), s_(std::move(settings)), module_(std::move(module)) {}

TorchScriptModel::~TorchScriptModel() = default;

double TorchScriptModel::network_time(double sigma) const {
  if (s_.time_input != TimeInput::kDiscreteIndex)
    return scalings(s_.parametrization, s_.time_input, sigma, s_.sigma_data).c_noise;
  return s_.nearest_timestep ? s_.table->nearest(sigma) : s_.table->timestep(sigma);
}

double TorchScriptModel::timestep(double sigma) const {
  if (s_.table) return s_.table->nearest(sigma);
  return Model::timestep(sigma);
}

double TorchScriptModel::sigma_at(double t) const {
  if (s_.table) return s_.table->sigma_at(t);
  return Model::sigma_at(t);
}

std::vector<double> TorchScriptModel::sigma_table() const {
  if (!s_.table) return Model::sigma_table();
  return s_.table->sigmas();
}

at::Tensor TorchScriptModel::denoise_batch(const at::Tensor& x, const NoiseLevels& sigma,
                                           const Conditioning& cond) const {
  const int64_t B = x.size(0);
  if (!info().takes_embedding && !cond.empty())
    throw InputError("conditioning", "given",
                     "'" + s_.path + "' takes no conditioning: its forward has 2 arguments (x, t), not 3");
  if (info().takes_embedding && !cond.embedding.defined())
    throw InputError("conditioning", cond.labels.defined() ? "class labels" : "none",
                     "'" + s_.path + "' takes a conditioning embedding as forward's third argument" +
                         (cond.labels.defined() ? std::string(", not class labels")
                                                : std::string("; give it one (ConditioningZeroOut of the positive "
                                                              "for the unconditional branch)")));
  // Scalings and times are computed on the host from the host-side sigmas, per row.
  std::vector<double> c_skip(B), c_out(B), c_in(B), times(B);
  for (int64_t b = 0; b < B; ++b) {
    Scalings k = scalings(s_.parametrization, s_.time_input, sigma[b], s_.sigma_data);
    c_skip[b] = k.c_skip;
    c_out[b] = k.c_out;
    c_in[b] = k.c_in;
    times[b] = network_time(sigma[b]);
  }
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[0] = B;
  auto column = [&](const std::vector<double>& v) {
    at::Tensor t = at::empty({B}, at::kDouble);
    std::copy(v.begin(), v.end(), t.data_ptr<double>());
    return t.to(x.options()).view(view);
  };
  at::Tensor t = at::empty({B}, at::kDouble);
  std::copy(times.begin(), times.end(), t.data_ptr<double>());
  std::vector<torch::jit::IValue> args{x * column(c_in), t.to(x.options())};
  if (info().takes_embedding) {
    at::Tensor e = cond.embedding.to(x.device(), x.scalar_type());
    if (e.size(0) != B && e.size(0) != 1)
      throw InputError(
          "conditioning", c10::str(e.sizes()),
          "the conditioning embedding's batch (" + std::to_string(e.size(0)) + ") must be 1 or " + std::to_string(B));
    std::vector<int64_t> full = e.sizes().vec();
    full[0] = B;
    args.emplace_back(e.expand(full).contiguous());
  }
  // Sampling and optimising never differentiate through the network: without this guard a
  // module fresh from training recorded autograd graphs for every call (6 GB where the reloaded
  // file took 0.33 GB). Callers that need gradients (the predictor cost) pass an x that requires
  // them.
  std::optional<at::NoGradGuard> no_grad;
  if (!x.requires_grad()) no_grad.emplace();
  at::Tensor out = module_->forward(args).toTensor();
  if (out.sizes() != x.sizes())
    throw std::runtime_error("'" + s_.path + "': forward returned shape " + c10::str(out.sizes()) + " for input " +
                             c10::str(x.sizes()));
  return x * column(c_skip) + out.to(x.scalar_type()) * column(c_out);
}

}  // namespace sf::diffusion
