// SIGMAS helpers shared by node plugins. SIGMAS travel as 1-D float32 CPU tensors (conventions
// §3); all arithmetic on them happens in float64 on the host.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "sigmaflow/value.h"

namespace sf::nodes {

// float32 CPU tensor of `sigmas`.
at::Tensor sigmas_tensor(const std::vector<double>& sigmas);
sf::Value sigmas_value(const std::vector<double>& sigmas);
// The values of a SIGMAS tensor as doubles (any dtype/device; one copy).
std::vector<double> sigmas_vector(const at::Tensor& sigmas);

// Throws sf::InputError(input, ...) unless `s` is a valid sampling schedule: finite, >= 0,
// strictly descending. Empty is valid (a no-op).
void check_sampling_sigmas(const std::vector<double>& s, const std::string& input);

std::string format_sigmas(const std::vector<double>& s, size_t max_items = 8);

}  // namespace sf::nodes
