// KSamplerSelect and the sampler option nodes. Every node builds its SAMPLER through the host's
// registry, so plugin samplers get the same options and the host stamps the provider.
#include <limits>

#include "nodes.h"

namespace sf::nodes {

namespace {

NodeContract sampler_contract(const char* class_type, std::string description, std::vector<InputSpec> inputs) {
  NodeContract c =
      Node(class_type, kSamplerCategory, std::move(description), std::move(inputs), {{"SAMPLER", "SAMPLER"}});
  return c;
}

Outputs sampler_output(Context& ctx, const std::string& name, const SamplerSettings& s) {
  return Outputs{Value(std::shared_ptr<const Object>(registry_sampler(ctx, name, s, "sampler_name")))};
}

LowerOrderFinal parse_lower_order_final(const std::string& v) {
  return v == "auto" ? LowerOrderFinal::kAuto : v == "on" ? LowerOrderFinal::kOn : LowerOrderFinal::kOff;
}

// k-diffusion's defaults as KSamplerSelect gives them (lower_order_final off, as k-diffusion).
SamplerSettings default_settings() { return SamplerSettings{}; }

NodeDef stochastic_options_node() {
  auto c = sampler_contract(
      "SamplerStochasticOptions",
      "A stochastic sampler with its noise options: eta (0 = deterministic), s_noise, and solver_type for "
      "dpmpp_2m_sde.",
      {RegistryCombo("sampler_name", "samplers:stochastic", {}, "euler_ancestral"), Float("eta", 1.0, 0.0, 100.0),
       Float("s_noise", 1.0, 0.0, 100.0), Combo("solver_type", {"midpoint", "heun"})});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    SamplerSettings s = default_settings();
    s.eta = in.get_float("eta");
    s.s_noise = in.get_float("s_noise");
    s.solver_type = in.get_string("solver_type");
    return sampler_output(ctx, in.get_string("sampler_name"), s);
  });
}

NodeDef edm_churn_node() {
  auto c = sampler_contract(
      "SamplerEDMChurn",
      "euler / heun / dpm_2 with Karras et al.'s churn: inside [s_tmin, s_tmax] each step first raises sigma by "
      "gamma = min(s_churn / N, sqrt(2) - 1) with fresh noise times s_noise.",
      {Combo("sampler_name", {"euler", "heun", "dpm_2"}), Float("s_churn", 0.0, 0.0, 100.0),
       Float("s_tmin", 0.0, 0.0, 1e6), Float("s_tmax", 1e6, 0.0, 1e9), Float("s_noise", 1.0, 0.0, 100.0)});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    SamplerSettings s = default_settings();
    s.s_churn = in.get_float("s_churn");
    s.s_tmin = in.get_float("s_tmin");
    s.s_tmax = in.get_float("s_tmax");
    s.s_noise = in.get_float("s_noise");
    return sampler_output(ctx, in.get_string("sampler_name"), s);
  });
}

NodeDef multistep_options_node() {
  auto c = sampler_contract(
      "SamplerMultistepOptions",
      "Multistep samplers with max_order and an opt-in lower_order_final (diffusers' convention: the last step into a "
      "positive sigma at first order, the one before at most second order; auto = on below 15 steps). The default, "
      "off, is what k-diffusion and ComfyUI always do.",
      {RegistryCombo("sampler_name", "samplers:multistep", {}, "lms"),
       Combo("lower_order_final", {"off", "auto", "on"}), Int("max_order", 4, 1, 4)});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    SamplerSettings s = default_settings();
    s.lower_order_final = parse_lower_order_final(in.get_string("lower_order_final"));
    s.max_order = static_cast<int>(in.get_int("max_order"));
    return sampler_output(ctx, in.get_string("sampler_name"), s);
  });
}

// ComfyUI's own option node names, so its graphs load unchanged.
NodeDef comfy_alias_node(const char* class_type, const char* sampler, bool solver, bool noise_device) {
  std::vector<InputSpec> inputs = {Float("eta", 1.0, 0.0, 100.0), Float("s_noise", 1.0, 0.0, 100.0)};
  if (solver) inputs.insert(inputs.begin(), Combo("solver_type", {"midpoint", "heun"}));
  if (noise_device)
    inputs.push_back(Tooltip(Combo("noise_device", {"gpu", "cpu"}),
                             "accepted for ComfyUI graphs; sigmaflow always draws per-step noise on the CPU from the "
                             "seed, so a seed gives the same samples on every device"));
  auto c = sampler_contract(class_type, std::string(sampler) + " with eta and s_noise (ComfyUI-compatible node).",
                            std::move(inputs));
  std::string name = sampler;
  return make_node(c, [name](Context& ctx, const Inputs& in) {
    SamplerSettings s = default_settings();
    s.eta = in.get_float("eta");
    s.s_noise = in.get_float("s_noise");
    if (in.has("solver_type")) s.solver_type = in.get_string("solver_type");
    if (in.has("noise_device") && in.get_string("noise_device") == "gpu")
      ctx.info(
          "noise_device 'gpu': per-step noise is drawn on the CPU from the seed (the same samples on every device)");
    return sampler_output(ctx, name, s);
  });
}

NodeDef lms_node() {
  auto c =
      sampler_contract("SamplerLMS", "Linear multistep (k-diffusion lms) of the given order.", {Int("order", 4, 1, 4)});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    SamplerSettings s = default_settings();
    s.max_order = static_cast<int>(in.get_int("order"));
    return sampler_output(ctx, "lms", s);
  });
}

}  // namespace

NodeDef ksampler_select_node() {
  auto c = sampler_contract("KSamplerSelect",
                            "A sampler by name with k-diffusion's default options (eta = 1, s_noise = 1, no churn, "
                            "no lower_order_final), as ComfyUI's KSamplerSelect.",
                            {RegistryCombo("sampler_name", "samplers", {}, "euler")});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    return sampler_output(ctx, in.get_string("sampler_name"), default_settings());
  });
}

std::vector<NodeDef> sampler_option_nodes() {
  return {stochastic_options_node(),
          edm_churn_node(),
          multistep_options_node(),
          comfy_alias_node("SamplerEulerAncestral", "euler_ancestral", false, false),
          comfy_alias_node("SamplerDPMPP_2S_Ancestral", "dpmpp_2s_ancestral", false, false),
          comfy_alias_node("SamplerDPMPP_2M_SDE", "dpmpp_2m_sde", true, true),
          comfy_alias_node("SamplerDPMPP_3M_SDE", "dpmpp_3m_sde", false, true),
          lms_node()};
}

}  // namespace sf::nodes
