#include "sampling_run.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "sigmaflow/diffusion/guidance.h"

namespace sf::nodes {

namespace {

void check_latent_shape(const Model& model, const at::Tensor& lat, const std::string& input, const std::string& owner) {
  const auto& shape = model.sample_shape();
  bool ok = lat.dim() == static_cast<int64_t>(shape.size()) + 1 && lat.size(0) >= 1;
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = lat.size(static_cast<int64_t>(i + 1)) == shape[i];
  if (ok) return;
  std::string want = "[B";
  for (auto d : shape) want += ", " + std::to_string(d);
  throw InputError(input, c10::str(lat.sizes()),
                   "latent shape " + c10::str(lat.sizes()) + " does not match " +
                       (owner == "model" ? std::string("the model's sample shape ")
                                         : "the sample shape of the " + owner + "'s model ") +
                       want + "]");
}

at::Tensor start_state(const Model& model, const Noise* noise, const diffusion::Sigmas& sigmas, const at::Tensor& lat,
                       bool comfy_scaling) {
  if (sigmas.empty() || !noise) return lat;
  at::Tensor n = noise->generate(lat);
  if (!n.defined()) return lat;
  double scale = sigmas[0];
  if (comfy_scaling && std::fabs(sigmas[0] - model.sigma_max()) <= 1e-5 * model.sigma_max())
    scale = std::sqrt(1.0 + sigmas[0] * sigmas[0]);
  return lat + n * scale;
}

}  // namespace

SamplingResult sample_latent(Context& ctx, const Model& model, const Noise* noise, uint64_t seed,
                             const Sampler& sampler, const diffusion::Sigmas& sigmas, const Latent& latent,
                             bool comfy_scaling, const SamplingInputs& names) {
  sigmas.check_sampling(names.sigmas);
  check_latent_shape(model, latent.samples(), names.latent, names.model);
  at::Tensor lat = latent.samples().to(model.device(), model.dtype());
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor x = start_state(model, noise, sigmas, lat, comfy_scaling);
  SampleContext sc;
  sc.seed = seed;
  sc.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); };
  sc.interrupt = ctx.interrupt_flag();
  at::Tensor out;
  const Collectives* group = ctx.collectives();
  if (group && group->world_size() > 1 && sigmas.size() > 1 && x.size(0) >= group->world_size()) {
    // Under torchrun: each rank samples its rows of the batch (noise drawn for the whole batch,
    // so every row gets what a single process gives it), then the rows are gathered.
    auto [begin, end] = group->shard(x.size(0));
    std::shared_ptr<const Model> rows = diffusion::guided_rows(model, begin, end);
    const Model& part = rows ? *rows : model;
    SampleSharding shard;
    shard.row_offset = begin;
    shard.global_rows = x.size(0);
    sc.attach(shard);
    at::Tensor local = sampler.sample(part, x.narrow(0, begin, end - begin), sigmas.values(), sc);
    out = group->all_gather_rows(local.to(at::kCPU)).to(x.device());
    if (sc.denoised.defined()) sc.denoised = group->all_gather_rows(sc.denoised.to(at::kCPU)).to(x.device());
  } else {
    out = sigmas.size() <= 1 ? x : sampler.sample(model, x, sigmas.values(), sc);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  SamplingResult r;
  r.output = std::make_shared<Latent>(out);
  r.denoised = std::make_shared<Latent>(sc.denoised.defined() ? sc.denoised : out);
  for (auto* l : {r.output.get(), r.denoised.get()}) {
    l->nfe = sc.nfe;
    l->wall_seconds = seconds;
    l->steps = sigmas.steps();
    l->seed = static_cast<int64_t>(seed);
    l->sampler = sampler.name();
    l->sigmas = sigmas.values();
    l->model_fingerprint = model.fingerprint();
  }
  return r;
}

}  // namespace sf::nodes
