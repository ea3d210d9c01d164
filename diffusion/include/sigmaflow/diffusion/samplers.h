// k-diffusion's samplers in C++: one function per sampler (src/samplers/), each citing its
// k-diffusion / ComfyUI twin, and one table of {name, function, traits, step form}. Every list of
// sampler names and every option node's choices derive from this table (through the host's
// registry). A deterministic sampler's step form (sigmaflow/step_form.h) lives next to its
// function; optimal_steps serves every sampler that has one.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/diffusion/sampler_kit.h"
#include "sigmaflow/sampler.h"

namespace sf::diffusion {

// The step form of a sampler made with `settings`: null when it has none; a Status naming the
// setting (s_churn, lower_order_final, max_order) when those settings have no form.
using StepFormFactory = Result<std::shared_ptr<const StepForm>> (*)(const SamplerSettings& settings);

struct SamplerEntry {
  const char* name;
  SamplerFn fn;
  SamplerTraits traits;
  const char* description;
  StepFormFactory step_form = nullptr;
};

// Every stock sampler, in ComfyUI's order.
const std::vector<SamplerEntry>& sampler_table();
// The entry called `name`, or null.
const SamplerEntry* find_sampler(const std::string& name);

// A table sampler with its settings, as a SAMPLER value.
class TableSampler : public Sampler {
 public:
  TableSampler(const SamplerEntry& entry, SamplerSettings settings) : entry_(entry), settings_(std::move(settings)) {}
  std::string name() const override { return entry_.name; }
  SamplerTraits traits() const override { return entry_.traits; }
  const SamplerSettings& settings() const { return settings_; }
  Result<std::shared_ptr<const StepForm>> step_form() const override {
    if (!entry_.step_form) return std::shared_ptr<const StepForm>();
    return entry_.step_form(settings_);
  }

 protected:
  at::Tensor run(const Model& model, at::Tensor x, const std::vector<double>& sigmas,
                 SampleContext& ctx) const override {
    return run_located(entry_.fn, settings_, model, std::move(x), sigmas, ctx);
  }

 private:
  const SamplerEntry& entry_;
  SamplerSettings settings_;
};

namespace samplers {
at::Tensor euler(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor heun(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpm_2(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor euler_ancestral(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpm_2_ancestral(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpmpp_2s_ancestral(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor lms(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpmpp_2m(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor ipndm(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor ipndm_v(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpmpp_2m_sde(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpmpp_3m_sde(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor dpmpp_3m(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor ddpm(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);
at::Tensor lcm(SamplerRun&, at::Tensor, const std::vector<double>&, const SamplerSettings&);

// Step forms (sigmaflow/step_form.h), each next to its sampler's function.
Result<std::shared_ptr<const StepForm>> euler_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> heun_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> dpm_2_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> lms_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> dpmpp_2m_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> dpmpp_3m_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> ipndm_form(const SamplerSettings&);
Result<std::shared_ptr<const StepForm>> ipndm_v_form(const SamplerSettings&);

// Coefficients of k-diffusion's linear multistep method: integral over [t[i], t[i+1]] of the
// Lagrange basis polynomial j built on t[i], t[i-1], ..., t[i-order+1]. Exact (Gauss-Legendre).
double linear_multistep_coeff(int order, const std::vector<double>& t, int i, int j);
// ComfyUI's ipndm_v weights for step i of the schedule s at `order` (2-4): the multipliers of the
// current derivative and of the order - 1 previous ones, most recent first.
std::vector<double> ipndm_v_coefficients(const std::vector<double>& s, int64_t i, int order);
}  // namespace samplers

}  // namespace sf::diffusion
