// SAMPLER and NOISE values, and the LATENT batch (k-diffusion's sampler contract).
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "sigmaflow/contract.h"
#include "sigmaflow/model.h"
#include "sigmaflow/status.h"
#include "sigmaflow/step_form.h"
#include "sigmaflow/value.h"

namespace sf {

// k-diffusion's sampler options. A sampler reads the ones it understands.
enum class LowerOrderFinal {
  kOff,   // k-diffusion and ComfyUI: never
  kOn,    // the last step into a positive sigma at first order, the one before at most second
  kAuto,  // on when the run has fewer than 15 steps (diffusers' DPM-Solver convention)
};
struct SamplerSettings {
  double eta = 1.0;                                                                      // ancestral / SDE noise amount
  double s_noise = 1.0;                                                                  // noise multiplier
  double s_churn = 0.0, s_tmin = 0.0, s_tmax = std::numeric_limits<double>::infinity();  // EDM churn
  std::string solver_type = "midpoint";  // dpmpp_2m_sde: midpoint or heun
  LowerOrderFinal lower_order_final = LowerOrderFinal::kOff;
  int max_order = 4;  // lms, ipndm, ipndm_v
};

// (3.0) Extension points of SampleContext. Plugins allocate SampleContext, so its layout is fixed
// for the whole major: what a 3.x minor adds to it comes as an extension struct that the caller
// attaches and the sampler finds by id (CLAP's extensions are the model). Every extension is a
// standard-layout struct whose first member is a SampleExtension header: its id, its size as the
// caller compiled it, and the next extension of the chain. Readers skip ids they do not know and
// read a field only when the caller's size covers it (extension_covers), so a caller built for an
// older minor simply gets the defaults, and a caller built for a newer one is not misread.
struct SampleExtension {
  const char* id;
  uint32_t size;
  const SampleExtension* next = nullptr;
};

// Sharded sampling (torchrun): x holds rows [row_offset, row_offset + B) of a batch of
// global_rows; per-step noise is drawn for the whole batch and sliced, so the rows get the
// numbers a single process would give them. Absent or global_rows <= B: x is the whole batch.
struct SampleSharding {
  static constexpr const char* kId = "sigmaflow.sharding";
  SampleExtension header{kId, sizeof(SampleSharding)};
  int64_t row_offset = 0;
  int64_t global_rows = 0;
};

// What a sampler receives besides the model, the state and the sigmas.
struct SampleContext {
  uint64_t seed = 0;  // per-step noise of stochastic samplers is generated on the CPU from this
  // Called after every step with (steps done, total steps); may be empty.
  std::function<void(int64_t, int64_t)> progress;
  // When set and true, the sampler stops after the current step by throwing sf::Interrupted.
  const std::atomic<bool>* interrupt = nullptr;
  // Filled by the sampler: model evaluations spent and the last denoised estimate.
  int64_t nfe = 0;
  at::Tensor denoised;
  // The attached extensions (borrowed: each must outlive the sample() call); null: none.
  const SampleExtension* extensions = nullptr;

  // Prepends `extension` to the chain.
  template <class Extension>
  void attach(Extension& extension) {
    extension.header.next = extensions;
    extensions = &extension.header;
  }
};

// The extension of type Extension attached to ctx (matched by Extension::kId), or null.
template <class Extension>
const Extension* find_extension(const SampleContext& ctx) {
  static_assert(std::is_standard_layout_v<Extension>, "an extension must be standard-layout");
  for (const SampleExtension* e = ctx.extensions; e; e = e->next)
    if (e->id && std::strcmp(e->id, Extension::kId) == 0 && e->size >= sizeof(SampleExtension))
      return reinterpret_cast<const Extension*>(e);  // the header is the first member
  return nullptr;
}

// Whether the caller's copy of `extension` (of header.size bytes) contains `field`.
template <class Extension, class Field>
bool extension_covers(const Extension& extension, const Field& field) {
  const auto* begin = reinterpret_cast<const char*>(&extension);
  const auto* end = reinterpret_cast<const char*>(&field) + sizeof(Field);
  return end <= begin + extension.header.size;
}

class SF_SHARED Sampler : public Object {
 public:
  ~Sampler() override;
  std::string type_name() const override { return "SAMPLER"; }
  std::string describe() const override;
  virtual std::string name() const = 0;
  virtual SamplerTraits traits() const { return {}; }
  // (3.0) The sampler's step algebra (sigmaflow/step_form.h), the capability optimal_steps needs;
  // null (the default) when the sampler offers none. A non-ok Status when the settings this
  // sampler was made with make its steps irreproducible (e.g. churn), naming that setting as
  // its input. Called on the execution thread; the form may be kept and used from any thread.
  virtual Result<std::shared_ptr<const StepForm>> step_form() const { return std::shared_ptr<const StepForm>(); }

  // Runs the sampler: x is the start state (latent + sigmas[0] * noise) on the model's device;
  // sigmas the schedule on the host (descending, ending in 0 for a full run). Runs
  // sigmas.size() - 1 steps. Then checks what run() returned: the shape, dtype and device of x,
  // and finite values; a violation throws an error naming the sampler and its plugin.
  at::Tensor sample(const Model& model, at::Tensor x, const std::vector<double>& sigmas, SampleContext& ctx) const;

  // The plugin that registered this sampler (set by the host's registry; empty when a node built
  // the object itself).
  const std::string& provider() const { return provider_; }
  void set_provider(std::string plugin) { provider_ = std::move(plugin); }

 protected:
  // The algorithm. Never reads sigmas from the device.
  virtual at::Tensor run(const Model& model, at::Tensor x, const std::vector<double>& sigmas,
                         SampleContext& ctx) const = 0;

 private:
  std::string provider_;
};

class SF_SHARED Noise : public Object {
 public:
  ~Noise() override;
  std::string type_name() const override { return "NOISE"; }
  // Initial noise shaped like `latent`, generated on the CPU (float32) and moved to latent's
  // device, so the same seed gives the same numbers on every machine. An undefined tensor means
  // "no noise" (DisableNoise).
  virtual at::Tensor generate(const at::Tensor& latent) const = 0;
  virtual uint64_t seed() const = 0;
};

// LATENT: a batch [B, ...sample shape] plus where it came from (for metrics and reports).
class SF_SHARED Latent : public Object {
 public:
  explicit Latent(at::Tensor samples) : samples_(std::move(samples)) {}
  ~Latent() override;
  std::string type_name() const override { return "LATENT"; }
  std::string describe() const override;
  const at::Tensor& samples() const { return samples_; }

  // Provenance, filled by samplers: NFE spent, wall seconds, sampler, schedule, steps, seed.
  int64_t nfe = 0;
  double wall_seconds = 0.0;
  int64_t steps = 0;
  int64_t seed = -1;
  std::string sampler;
  std::vector<double> sigmas;
  std::string model_fingerprint;

 private:
  at::Tensor samples_;
};

}  // namespace sf
