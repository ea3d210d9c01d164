#include <stdexcept>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion {

const std::vector<SamplerEntry>& sampler_table() {
  using namespace samplers;
  // {stochastic, multistep, order, evaluations per step}; deterministic samplers end in their step form
  static const std::vector<SamplerEntry> table = {
      {"euler", euler, {false, false, 1, 1}, "Euler (k-diffusion sample_euler)", euler_form},
      {"euler_ancestral", euler_ancestral, {true, false, 1, 1}, "Euler ancestral"},
      {"heun", heun, {false, false, 2, 2}, "Heun's second-order method", heun_form},
      {"dpm_2", dpm_2, {false, false, 2, 2}, "DPM-Solver-2 (midpoint in log sigma)", dpm_2_form},
      {"dpm_2_ancestral", dpm_2_ancestral, {true, false, 2, 2}, "DPM-Solver-2 ancestral"},
      {"lms", lms, {false, true, 4, 1}, "linear multistep (order up to max_order)", lms_form},
      {"dpmpp_2s_ancestral", dpmpp_2s_ancestral, {true, false, 2, 2}, "DPM-Solver++(2S) ancestral"},
      {"dpmpp_2m", dpmpp_2m, {false, true, 2, 1}, "DPM-Solver++(2M)", dpmpp_2m_form},
      {"dpmpp_2m_sde", dpmpp_2m_sde, {true, true, 2, 1}, "DPM-Solver++(2M) SDE"},
      {"dpmpp_3m_sde", dpmpp_3m_sde, {true, true, 3, 1}, "DPM-Solver++(3M) SDE"},
      {"dpmpp_3m", dpmpp_3m, {false, true, 3, 1}, "DPM-Solver++(3M), the ODE (dpmpp_3m_sde at eta 0)", dpmpp_3m_form},
      {"ipndm", ipndm, {false, true, 4, 1}, "improved PNDM (Adams-Bashforth, fixed coefficients)", ipndm_form},
      {"ipndm_v", ipndm_v, {false, true, 4, 1}, "improved PNDM for variable steps", ipndm_v_form},
      {"ddpm", ddpm, {true, false, 1, 1}, "DDPM ancestral posterior step"},
      {"lcm", lcm, {true, false, 1, 1}, "latent consistency: denoise, then re-noise"},
  };
  return table;
}

const SamplerEntry* find_sampler(const std::string& name) {
  for (const auto& e : sampler_table())
    if (name == e.name) return &e;
  return nullptr;
}

}  // namespace sf::diffusion
