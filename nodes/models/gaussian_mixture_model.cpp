#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/device.h"
#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
// SampleData
const In<Model> kExactModel{Requires(Port("model", "MODEL"), kExactDensity)};
const In<int64_t> kCount{Int("n", 1000, 1, 1 << 24)};
const In<uint64_t> kSeed{Seed("seed")};

}  // namespace

using diffusion::GaussianMixture;
using diffusion::MixtureParams;

namespace {

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
  if (rows[0].empty()) throw InputError(input, l.to_json(), "a component has no values (an empty row)");
  for (const auto& r : rows)
    if (r.size() != rows[0].size())
      throw InputError(
          input, l.to_json(),
          "ragged list: rows have " + std::to_string(rows[0].size()) + " and " + std::to_string(r.size()) + " entries");
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

// Validates shapes and values; throws sf::InputError naming the input (weights, means, stds,
// variances) on ragged lists, negative variances, or weights that do not sum to 1 (unless
// `normalize`).
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
  if (!stds && !variances)
    throw InputError("stds", "null", "give per-component stds (isotropic) or variances (diagonal)");
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

std::vector<int64_t> labels_of(const Literal& l) {
  if (!l.is_list()) throw InputError("labels", l.to_json(), "expected a list of class labels");
  std::vector<int64_t> out;
  for (const auto& v : l.as_list()) {
    if (!v.is_int() || v.is_big_uint() || v.as_int() < 0)
      throw InputError("labels", l.to_json(), "labels must be integers >= 0, got " + v.to_json());
    out.push_back(v.as_int());
  }
  return out;
}

MixtureParams params_from_inputs(const Inputs& in) {
  const std::string& preset = in.get_string("preset");
  if (preset != "custom") {
    for (const char* name : {"weights", "means", "stds", "variances", "labels"})
      if (in.has(name))
        throw InputError(name, in.get(name).literal().to_json(),
                         std::string("preset '") + preset + "' ignores " + name + "; choose preset 'custom' to use it");
    return diffusion::mixture_preset(preset);
  }
  if (!in.has("means")) throw InputError("means", "null", "preset 'custom' needs means (and stds or variances)");
  const Literal* w = in.has("weights") ? &in.get_literal("weights") : nullptr;
  const Literal* s = in.has("stds") ? &in.get_literal("stds") : nullptr;
  const Literal* v = in.has("variances") ? &in.get_literal("variances") : nullptr;
  MixtureParams p = mixture_from_lists(w, in.get_literal("means"), s, v, in.get_bool("normalize"));
  if (in.has("labels")) p.labels = labels_of(in.get_literal("labels"));
  return p;
}

}  // namespace

NodeDef gaussian_mixture_model_node() {
  NodeContract c =
      Node("GaussianMixtureModel", kModelCategory,
           "A model with an exact denoiser, score and log-density: a Gaussian mixture given by a preset or by literal "
           "lists (weights, means, and per-component stds for isotropic or variances for diagonal components). Weights "
           "must sum to 1 unless normalize is on. With labels (one class per component) it is class-conditional: "
           "conditioning on class c keeps the components labelled c. Preset ring8_classes labels ring8's modes 0, 1, "
           "0, 1...");
  c.display_name = "Gaussian Mixture Model (exact score)";
  std::vector<std::string> presets = diffusion::mixture_preset_names();
  presets.push_back("custom");
  c.inputs = {Combo("preset", presets, std::string("clusters2d")),
              Optional(Tooltip(List("weights"), "K weights, e.g. {\"__value__\": [0.5, 0.5]}")),
              Optional(Tooltip(List("means"), "K means, each a list of d numbers")),
              Optional(Tooltip(List("stds"), "K isotropic standard deviations")),
              Optional(Tooltip(List("variances"), "K rows of d diagonal variances")),
              Optional(Tooltip(List("labels"), "K class labels (0, 1, ...): a class-conditional mixture")),
              Bool("normalize", false),
              Float("sigma_min", 0.002, 1e-6, 1e4, 0.001),
              Float("sigma_max", 80.0, 1e-5, 1e5, 0.1),
              String("device", "default"),
              Combo("dtype", {"float32", "float64"})};
  c.outputs = {{"MODEL", "MODEL", {kExactDensity}}};
  c.constraints = {Less("sigma_min", "sigma_max")};
  for (const char* name : {"weights", "means", "stds", "variances", "labels"})
    c.constraints.push_back(OnlyWhen(name, "preset", "custom", "a preset ignores it; choose preset 'custom'"));
  c.constraints.push_back(RequiredWhen("means", "preset", "custom", "preset 'custom' needs means"));
  return make_node(c, [](Context& ctx, const Inputs& in) {
    MixtureParams p = params_from_inputs(in);
    double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
    if (!(smin < smax))
      throw InputError("sigma_min", std::to_string(smin),
                       "sigma_min (" + std::to_string(smin) + ") must be < sigma_max (" + std::to_string(smax) + ")");
    auto model = std::make_shared<GaussianMixture>(std::move(p), smin, smax, model_device(ctx, in),
                                                   in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat);
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

namespace {

// Samples come in chunks of about a million values (kChunkValues / d samples), chunk c from its
// own stream (c = 0: the seed itself, so up to one chunk the node gives sample_data(n, seed);
// then stream_seed(seed, c)): the samples do not depend on who draws which chunk. Under torchrun
// each rank draws a share of the chunks and every rank gets all of them, gathered in order.
constexpr int64_t kChunkValues = int64_t{1} << 20;

at::Tensor sample_in_chunks(const ExactDensity& exact, int64_t n, int64_t dim, uint64_t seed,
                            const Collectives* group) {
  const int64_t rows = std::max<int64_t>(1, kChunkValues / std::max<int64_t>(1, dim));
  const int64_t chunks = (n + rows - 1) / rows;
  auto draw = [&](int64_t c0, int64_t c1) {
    std::vector<at::Tensor> parts;
    for (int64_t c = c0; c < c1; ++c) {
      throw_if_interrupted();
      parts.push_back(exact.sample_data(std::min(rows, n - c * rows),
                                        c == 0 ? seed : diffusion::stream_seed(seed, static_cast<uint64_t>(c))));
    }
    return at::cat(parts, 0);
  };
  return diffusion::rows_gathered(group, chunks, draw);
}

}  // namespace

NodeDef sample_data_node() {
  NodeContract c =
      Node("SampleData", kModelCategory,
           "n exact samples from the model's data distribution (mixtures), generated on the CPU from the seed (in "
           "chunks of 2^20 / d samples, each from its own stream of the seed) and moved to the model's device: "
           "reference samples for metrics.",
           {kExactModel, kCount, kSeed}, {{"LATENT", "samples"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = kExactModel(in);
    const ExactDensity* exact = model->exact();
    if (!exact)
      throw InputError(kExactModel.name(), model->describe(), "this model cannot sample its data distribution exactly");
    int64_t n = kCount(in);
    uint64_t bytes = 0;
    if (!diffusion::checked_bytes(diffusion::batch_shape(n, model->sample_shape()), 8, bytes))
      throw InputError(kCount.name(), std::to_string(n), "the sample batch's size overflows");
    Status mem = diffusion::check_allocation(bytes, std::to_string(n) + " exact samples", 2.0);
    if (!mem.ok()) throw InputError(kCount.name(), std::to_string(n), mem.message(), Code::kResourceExhausted);
    int64_t dim = 1;
    for (int64_t v : model->sample_shape()) dim *= v;
    at::Tensor x = sample_in_chunks(*exact, n, dim, kSeed(in), ctx.collectives());
    auto latent = std::make_shared<Latent>(x);
    latent->sampler = "exact";
    latent->seed = static_cast<int64_t>(kSeed(in));
    latent->model_fingerprint = model->fingerprint();
    return Outputs{Value(latent)};
  });
}

}  // namespace sf::nodes
