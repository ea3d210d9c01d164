#include "sampling_run.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "../common/sigmas.h"

namespace sf::nodes {

SamplingResult sample_latent(Context& ctx, const Model& model, const Noise* noise, uint64_t seed,
                             const Sampler& sampler, const std::vector<double>& sigmas, const Latent& latent,
                             bool comfy_scaling, const std::string& sigmas_input, const std::string& latent_input) {
  check_sampling_sigmas(sigmas, sigmas_input);
  at::Tensor lat = latent.samples();
  auto shape = model.sample_shape();
  bool shape_ok = lat.dim() == static_cast<int64_t>(shape.size()) + 1;
  for (size_t i = 0; shape_ok && i < shape.size(); ++i) shape_ok = lat.size(static_cast<int64_t>(i + 1)) == shape[i];
  if (!shape_ok || lat.size(0) < 1) {
    std::string want = "[B";
    for (auto d : shape) want += ", " + std::to_string(d);
    want += "]";
    throw InputError(latent_input, c10::str(lat.sizes()),
                     "latent shape " + c10::str(lat.sizes()) + " does not match the model's sample shape " + want);
  }
  lat = lat.to(model.device(), model.dtype());
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor x = lat;
  if (!sigmas.empty() && noise) {
    at::Tensor n = noise->generate(lat);
    if (n.defined()) {
      double scale = sigmas[0];
      if (comfy_scaling && std::fabs(sigmas[0] - model.sigma_max()) <= 1e-5 * model.sigma_max())
        scale = std::sqrt(1.0 + sigmas[0] * sigmas[0]);
      x = lat + n * scale;
    }
  }
  SampleContext sc;
  sc.seed = seed;
  sc.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); };
  at::Tensor out = sigmas.size() <= 1 ? x : sampler.sample(model, x, sigmas, sc);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  SamplingResult r;
  r.output = std::make_shared<Latent>(out);
  r.denoised = std::make_shared<Latent>(sc.denoised.defined() ? sc.denoised : out);
  for (auto* l : {r.output.get(), r.denoised.get()}) {
    l->nfe = sc.nfe;
    l->wall_seconds = seconds;
    l->steps = sigmas.empty() ? 0 : static_cast<int64_t>(sigmas.size()) - 1;
    l->seed = static_cast<int64_t>(seed);
    l->sampler = sampler.name();
    l->sigmas = sigmas;
    l->model_fingerprint = model.fingerprint();
  }
  return r;
}

}  // namespace sf::nodes
