// Out-of-line parts of the plugin API: the key functions of the shared interfaces (so their
// vtables and type_info live once, in libsigmaflow_plugin_api), the checks every sampler run
// gets, and the input getters.
#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <sstream>

#include "sigmaflow/crash_note.h"
#include "sigmaflow/diagnostics.h"
#include "sigmaflow/guider.h"
#include "sigmaflow/node.h"
#include "sigmaflow/report.h"
#include "sigmaflow/schedule_options.h"

namespace sf {

namespace {
thread_local const std::atomic<bool>* t_interrupt = nullptr;
}  // namespace

void set_thread_interrupt(const std::atomic<bool>* flag) noexcept { t_interrupt = flag; }
bool interrupt_requested() noexcept { return t_interrupt && t_interrupt->load(std::memory_order_relaxed); }
void throw_if_interrupted() {
  if (interrupt_requested()) throw Interrupted();
}

at::Tensor NoiseLevels::to_tensor(int64_t batch, const at::TensorOptions& options) const {
  if (uniform()) return at::full({batch}, value_, options);
  at::Tensor t = at::empty({rows()}, at::kDouble);
  std::copy(per_row_.begin(), per_row_.end(), t.data_ptr<double>());
  return t.to(options);
}

namespace {
struct Named {
  const char* name;
  int value;
};
const Named kParametrizations[] = {{"ve", 0}, {"denoiser", 0}, {"eps", 1}, {"v", 2},
                                   {"x0", 3}, {"edm", 4},      {"flow", 5}};
const Named kTimeInputs[] = {{"sigma", 0}, {"log_sigma_quarter", 1}, {"discrete_index", 2}, {"flow_t1000", 3}};
}  // namespace

const char* to_string(Parametrization p) {
  switch (p) {
    case Parametrization::kDenoiser:
      return "ve";
    case Parametrization::kEps:
      return "eps";
    case Parametrization::kV:
      return "v";
    case Parametrization::kX0:
      return "x0";
    case Parametrization::kEdm:
      return "edm";
    case Parametrization::kFlow:
      return "flow";
  }
  return "?";
}

const char* to_string(TimeInput t) {
  switch (t) {
    case TimeInput::kSigma:
      return "sigma";
    case TimeInput::kLogSigmaQuarter:
      return "log_sigma_quarter";
    case TimeInput::kDiscreteIndex:
      return "discrete_index";
    case TimeInput::kFlowT1000:
      return "flow_t1000";
  }
  return "?";
}

bool parse_parametrization(const std::string& text, Parametrization& out) {
  for (const auto& n : kParametrizations)
    if (text == n.name) {
      out = static_cast<Parametrization>(n.value);
      return true;
    }
  return false;
}

bool parse_time_input(const std::string& text, TimeInput& out) {
  for (const auto& n : kTimeInputs)
    if (text == n.name) {
      out = static_cast<TimeInput>(n.value);
      return true;
    }
  return false;
}

Scalings scalings(Parametrization p, TimeInput t, double s, double sd) {
  Scalings k;
  // The operation order matches the tensor formulas the models used before (bit-exact in float64).
  const double inv_norm = 1.0 / std::sqrt(s * s + sd * sd);
  switch (p) {
    case Parametrization::kDenoiser:
      k = {0.0, 1.0, 1.0, 0.0};
      break;
    case Parametrization::kX0:
      k = {0.0, 1.0, inv_norm, 0.0};
      break;
    case Parametrization::kEps:
      k = {1.0, -s, 1.0 / std::sqrt(s * s + 1), 0.0};
      break;
    case Parametrization::kV:
      k = {sd * sd / (s * s + sd * sd), -(s * sd * inv_norm), inv_norm, 0.0};
      break;
    case Parametrization::kEdm:
      k = {sd * sd / (s * s + sd * sd), s * sd * inv_norm, inv_norm, 0.0};
      break;
    case Parametrization::kFlow:
      k = {1 / (1 + s), -(s / (1 + s)), 1 / (1 + s), 0.0};
      break;
  }
  const bool flow = p == Parametrization::kFlow;
  switch (t) {
    case TimeInput::kSigma:
      k.c_noise = flow ? s / (1 + s) : s;
      break;
    case TimeInput::kLogSigmaQuarter:
      k.c_noise = 0.25 * std::log(s);
      break;
    case TimeInput::kFlowT1000:
      k.c_noise = 1000.0 * s / (1 + s);
      break;
    case TimeInput::kDiscreteIndex:
      k.c_noise = std::numeric_limits<double>::quiet_NaN();
      break;
  }
  return k;
}

ExactDensity::~ExactDensity() = default;
Model::~Model() = default;

std::string Model::describe() const {
  if (!info_.description.empty()) return info_.description;
  std::ostringstream os;
  os << "MODEL " << to_string(info_.parametrization) << " sigma [" << info_.sigma_min << ", " << info_.sigma_max
     << "] on " << info_.device.str();
  return os.str();
}

at::Tensor Model::score(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  at::Tensor s = sigma.to_tensor(x.size(0), x.options()).reshape(shape);
  return (denoise(x, sigma, cond) - x) / (s * s);
}

std::vector<double> Model::sigma_table() const {
  at::Tensor t = at::linspace(std::log(sigma_min()), std::log(sigma_max()), 1000, at::kDouble).exp().contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

namespace {
std::string format_values(const std::vector<double>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 && s.size() > 9) {
      out += ", ...";
      i = s.size() - 1;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", s[i]);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "]";
}
}  // namespace

Status check_full_schedule(const std::vector<double>& s, int64_t steps) {
  if (steps >= 0 && static_cast<int64_t>(s.size()) != steps + 1)
    return InvalidArgument("a " + std::to_string(steps) + "-step schedule must have " + std::to_string(steps + 1) +
                           " values, got " + std::to_string(s.size()) + " " + format_values(s));
  if (s.size() < 2) return InvalidArgument("a schedule needs at least 2 values, got " + format_values(s));
  for (size_t i = 0; i < s.size(); ++i) {
    if (!std::isfinite(s[i]))
      return InvalidArgument("value " + std::to_string(i) + " is not finite: " + format_values(s));
    if (i > 0 && !(s[i] < s[i - 1]))
      return InvalidArgument("values must be strictly descending (value " + std::to_string(i) +
                             "): " + format_values(s));
  }
  if (s.back() != 0.0) return InvalidArgument("a schedule must end in 0: " + format_values(s));
  if (s.size() > 1 && !(s[s.size() - 2] > 0))
    return InvalidArgument("values before the last must be > 0: " + format_values(s));
  return Status::Ok();
}

Sampler::~Sampler() = default;

ScheduleOptions::~ScheduleOptions() = default;

Result<std::vector<double>> compute_named_schedule(Context& ctx, const std::string& name, const Model& model,
                                                   int64_t steps, const ScheduleHints& hints,
                                                   const ScheduleOptions* options, const std::string& options_input) {
  if (!options) return ctx.compute_schedule(name, model, steps, hints);
  const std::string target = options->schedule();
  if (target != name)
    return InvalidArgument("input '" + options_input + "' holds options for the schedule '" + target +
                           "', and the schedule used is '" + name + "' (connect them only where '" + target +
                           "' is chosen)");
  auto r = options->compute(model, steps, hints);
  if (!r.ok()) return r;
  Status shape = check_full_schedule(*r, steps);
  if (!shape.ok())
    return InvalidArgument("schedule '" + name + "' with the options of input '" + options_input +
                           "' returned an invalid " + std::to_string(steps) + "-step schedule: " + shape.message());
  return r;
}

std::string Sampler::describe() const {
  return "SAMPLER " + name() + (provider_.empty() ? std::string() : " (plugin " + provider_ + ")");
}

at::Tensor Sampler::sample(const Model& model, at::Tensor x, const std::vector<double>& sigmas,
                           SampleContext& ctx) const {
  const auto shape = x.sizes().vec();
  const auto dtype = x.scalar_type();
  const auto device = x.device();
  at::Tensor out = run(model, std::move(x), sigmas, ctx);
  std::string who = "sampler '" + name() + "'" + (provider_.empty() ? std::string() : " (plugin " + provider_ + ")");
  if (!out.defined()) throw std::runtime_error(who + " returned no tensor");
  if (out.sizes().vec() != shape)
    throw std::runtime_error(who + " returned shape " + c10::str(out.sizes()) + " for a start state of shape " +
                             c10::str(at::IntArrayRef(shape)));
  if (out.scalar_type() != dtype)
    throw std::runtime_error(who + " returned dtype " + std::string(c10::toString(out.scalar_type())) +
                             " for a start state of dtype " + c10::toString(dtype));
  if (out.device() != device)
    throw std::runtime_error(who + " returned a tensor on " + out.device().str() + " for a start state on " +
                             device.str());
  if (!at::isfinite(out).all().item<bool>()) throw std::runtime_error(who + " returned NaN or Inf values");
  return out;
}

StepForm::~StepForm() = default;

// A form that does not implement its kind's method yields nothing; the optimiser's check refuses
// it, naming the sampler (no exception crosses the plugin boundary).
std::vector<double> StepForm::coefficients(double, double, const std::vector<double>&) const { return {}; }

at::Tensor StepForm::finish(const at::Tensor&, const at::Tensor&, double, const at::Tensor&, const at::Tensor&,
                            const at::Tensor&, const at::Tensor&) const {
  return {};
}

at::Tensor StepForm::history_item(const at::Tensor& x_i, const at::Tensor& denoised_i, double sigma_i) const {
  if (history() == History::kDenoised) return denoised_i;
  return (x_i - denoised_i) / sigma_i;
}

Noise::~Noise() = default;
Latent::~Latent() = default;

std::string Latent::describe() const {
  return "LATENT " + c10::str(samples_.sizes()) + (sampler.empty() ? std::string() : " from " + sampler);
}

Context::~Context() = default;
Registrar::~Registrar() = default;

ScheduleDiagnostics::~ScheduleDiagnostics() = default;

std::string ScheduleDiagnostics::describe() const {
  std::ostringstream os;
  os << "SCHEDULE_DIAGNOSTICS " << method << " (" << grid.size() << " grid points, " << nfe << " NFE"
     << (from_cache ? ", cached" : "") << ")";
  return os.str();
}

Metric::~Metric() = default;
std::string Metric::describe() const {
  std::ostringstream os;
  os << "METRIC " << name << " = " << value << " (" << computed_on << ")";
  return os.str();
}

Report::~Report() = default;
std::string Report::describe() const {
  std::ostringstream os;
  os << "REPORT " << cells.size() << " cells on " << model;
  return os.str();
}

namespace {
[[noreturn]] void missing(const std::string& name) {
  throw InputError(name, "", "required input '" + name + "' is missing");
}
std::string kind_of(const Value& v) {
  if (v.is_literal()) return "a literal " + v.literal().to_json();
  if (v.is_tensor()) return "a tensor";
  if (v.is_object()) return "a " + v.type() + " object";
  return "nothing";
}
}  // namespace

const Value& Inputs::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) missing(name);
  return it->second;
}

const Literal& Inputs::get_literal(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_literal()) throw InputError(name, v.type(), "input '" + name + "' expects a literal, got " + kind_of(v));
  return v.literal();
}

int64_t Inputs::get_int(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_int() && !l.is_big_uint()) return l.as_int();
  if (l.is_float() && std::floor(l.as_number()) == l.as_number() && std::fabs(l.as_number()) < 9.2e18)
    return static_cast<int64_t>(l.as_number());
  throw InputError(name, l.to_json(), "input '" + name + "' expects an integer in the int64 range");
}

uint64_t Inputs::get_uint(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_int() && (l.is_big_uint() || l.as_int() >= 0)) return l.as_uint();
  throw InputError(name, l.to_json(), "input '" + name + "' expects an integer in 0 .. 18446744073709551615");
}

double Inputs::get_float(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_number()) return l.as_number();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a number");
}

bool Inputs::get_bool(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_bool()) return l.as_bool();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a boolean");
}

const std::string& Inputs::get_string(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_string()) return l.as_string();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a string");
}

const at::Tensor& Inputs::get_tensor(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_tensor()) throw InputError(name, v.type(), "input '" + name + "' expects a tensor, got " + kind_of(v));
  return v.tensor();
}

std::shared_ptr<const Object> Inputs::get_object(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_object() || !v.object())
    throw InputError(name, v.type(), "input '" + name + "' expects an object, got " + kind_of(v));
  return v.object();
}

}  // namespace sf

namespace sf {

ConditioningValue::~ConditioningValue() = default;
Guider::~Guider() = default;

std::string ConditioningValue::describe() const {
  const Conditioning& c = conditioning_;
  std::string what;
  if (c.empty()) {
    what = "unconditional";
  } else if (c.labels.defined()) {
    at::Tensor l = c.labels.to(at::kCPU, at::kLong).reshape({-1});
    what = l.numel() == 1 ? "class " + std::to_string(l.item<int64_t>()) : std::to_string(l.numel()) + " class labels";
  } else {
    what = "embedding " + c10::str(c.embedding.sizes());
  }
  return "CONDITIONING (" + what + (source_.empty() ? "" : ", " + source_) + ")";
}

Status check_conditioning(const Model& model, const Conditioning& cond, int64_t batch) {
  const ModelInfo& info = model.info();
  auto batch_ok = [&](const at::Tensor& t) { return t.size(0) == 1 || batch < 0 || t.size(0) == batch; };
  if (cond.labels.defined()) {
    if (info.num_classes <= 0)
      return InvalidArgument("the model (" + model.describe() + ") is not class-conditional: it takes no class label");
    at::Tensor l = cond.labels.to(at::kCPU, at::kLong).reshape({-1});
    if (l.numel() == 0 || !batch_ok(l))
      return InvalidArgument("class labels must be one label or one per sample (" + std::to_string(batch) + "), got " +
                             std::to_string(l.numel()));
    int64_t lo = l.min().item<int64_t>(), hi = l.max().item<int64_t>();
    if (lo < 0 || hi >= info.num_classes)
      return InvalidArgument("class label " + std::to_string(lo < 0 ? lo : hi) + " is outside the model's classes 0.." +
                             std::to_string(info.num_classes - 1));
  }
  if (cond.embedding.defined()) {
    if (!info.takes_embedding)
      return InvalidArgument("the model (" + model.describe() + ") takes no conditioning embedding");
    const at::Tensor& e = cond.embedding;
    if (e.dim() < 1 || !batch_ok(e))
      return InvalidArgument("a conditioning embedding needs a batch dimension of 1 or " + std::to_string(batch) +
                             ", got shape " + c10::str(e.sizes()));
    if (!info.embedding_shape.empty()) {
      std::vector<int64_t> per(e.sizes().begin() + 1, e.sizes().end());
      if (per != info.embedding_shape)
        return InvalidArgument("the conditioning embedding has per-sample shape " + c10::str(per) +
                               ", the model takes " + c10::str(info.embedding_shape));
    }
  }
  return Status::Ok();
}

}  // namespace sf

#include "sigmaflow/collectives.h"

namespace sf {

Collectives::~Collectives() = default;

std::pair<int64_t, int64_t> Collectives::shard(int64_t total) const {
  const int64_t w = world_size(), r = rank();
  const int64_t base = total / w, extra = total % w;
  const int64_t begin = r * base + std::min<int64_t>(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::vector<std::string> Collectives::all_gather_strings(const std::string& local) const {
  at::Tensor bytes = at::empty({static_cast<int64_t>(local.size())}, at::TensorOptions().dtype(at::kByte));
  if (!local.empty()) std::memcpy(bytes.data_ptr(), local.data(), local.size());
  at::Tensor sizes = all_gather_rows(at::full({1}, static_cast<int64_t>(local.size()), at::kLong));
  at::Tensor all = all_gather_rows(bytes).contiguous();
  std::vector<std::string> out;
  int64_t at_byte = 0;
  const char* p = static_cast<const char*>(all.data_ptr());
  for (int64_t i = 0; i < sizes.size(0); ++i) {
    const int64_t n = sizes[i].item<int64_t>();
    out.emplace_back(p + at_byte, p + at_byte + n);
    at_byte += n;
  }
  return out;
}

namespace {
// The crash note: a fixed buffer, so the fatal-signal handler reads it without allocating.
char g_crash_note[1024];
std::atomic<bool> g_has_crash_note{false};
}  // namespace

void set_crash_note(const char* text) noexcept {
  g_has_crash_note.store(false);
  if (!text || !*text) return;
  const size_t n = strnlen(text, sizeof g_crash_note - 1);
  std::memcpy(g_crash_note, text, n);
  g_crash_note[n] = '\0';
  g_has_crash_note.store(true);
}

const char* crash_note() noexcept { return g_has_crash_note.load() ? g_crash_note : ""; }

}  // namespace sf
