// The diffusion library's sampler table as registry entries, each with a self-test.
#include <ATen/ATen.h>

#include <cmath>

#include "nodes.h"
#include "sigmaflow/diffusion/samplers.h"

namespace sf::nodes {

namespace {

// D(x, sigma) = x / (1 + sigma^2): the exact denoiser of N(0, 1) data.
class UnitGaussian : public Model {
 public:
  UnitGaussian() : Model(info()) {}

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning&) const override {
    return x / (1 + sigma.value() * sigma.value());
  }

 private:
  static ModelInfo info() {
    ModelInfo i;
    i.sample_shape = {1};
    i.dtype = at::kDouble;
    i.fingerprint = "self-test-unit-gaussian";
    return i;
  }
};

// One step 2 -> 0 returns D(x, 2) = x / 5 for every sampler (the final-step rule), with one
// model evaluation.
Status final_step_self_test(const diffusion::SamplerEntry& entry) {
  UnitGaussian model;
  diffusion::TableSampler sampler(entry, SamplerSettings{});
  SampleContext ctx;
  at::Tensor x = at::full({3, 1}, 1.5, at::kDouble);
  at::Tensor out = sampler.sample(model, x, {2.0, 0.0}, ctx);
  double err = (out - x / 5).abs().max().item<double>();
  if (err > 1e-12 || ctx.nfe != 1)
    return Internal(std::string(entry.name) + ": the step 2 -> 0 returned an error of " + std::to_string(err) +
                    " with " + std::to_string(ctx.nfe) + " evaluations (expected D(x, 2) = x/5 and 1)");
  return Status::Ok();
}

}  // namespace

std::vector<SamplerDef> stock_samplers() {
  std::vector<SamplerDef> out;
  for (const auto& e : diffusion::sampler_table()) {
    const diffusion::SamplerEntry* entry = &e;
    SamplerDef def = make_sampler_def(e.name, e.description, e.traits, [entry](const SamplerSettings& settings) {
      return std::make_shared<diffusion::TableSampler>(*entry, settings);
    });
    def.self_test = [entry] { return final_step_self_test(*entry); };
    out.push_back(std::move(def));
  }
  return out;
}

std::shared_ptr<const Sampler> registry_sampler(Context& ctx, const std::string& name, const SamplerSettings& settings,
                                                const std::string& input) {
  auto s = ctx.make_sampler(name, settings);
  if (!s.ok()) throw InputError(input, name, s.status().message());
  return *s;
}

}  // namespace sf::nodes
