// The step forms optimal_steps serves (sigmaflow/step_form.h): asked of the sampler through its
// interface, never recovered from its name or type, and checked against the sampler before use.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/sampler.h"
#include "sigmaflow/scheduler/optimal_steps/reference.h"
#include "sigmaflow/step_form.h"

namespace sf::oss {

// Walks `path` (descending, every value > 0) from x with `form`, carrying the history as the DP
// does; returns the state at path.back(). Throws std::runtime_error when the form yields the
// wrong number of coefficients or no tensor.
at::Tensor walk_step_form(const Denoiser& denoise, const StepForm& form, at::Tensor x, const std::vector<double>& path);

// The step form of `sampler`, after checking that it reproduces sampler.sample() on a short uneven
// path of an exact 2-D mixture in float64 (max difference <= 1e-9 of the state's scale). Throws
// sf::InputError about "sampler" when the sampler offers no form (naming it, its plugin and the
// samplers that have one), when its settings have none (the value names the setting), or when
// the check fails (naming the plugin and the difference).
std::shared_ptr<const StepForm> checked_step_form(const Sampler& sampler);

// The stock samplers that have a step form, in table order, as "euler, heun, ...".
std::string samplers_with_step_forms();

}  // namespace sf::oss
